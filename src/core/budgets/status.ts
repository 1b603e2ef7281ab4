import { userKey } from '../identity.js';
import type { BudgetBook, BudgetExperience, BudgetIdentity } from './book.js';
import type { BudgetUse } from './rules.js';

/** How each budget of this identity (in this Experience) stands now: for `usage` and `budget`. */
export async function budgetStatus(book: BudgetBook, user: BudgetIdentity, experience: BudgetExperience | null): Promise<BudgetUse[]> {
  const budgets = await book.budgetsFor(user, experience);
  const now = book.now();
  await book.ensure(budgets, now);
  const extra = book.extraFor(userKey(user.platform, user.id), now);
  return budgets.map((b) => book.use(b, extra, now));
}
