import type { BudgetGrantRow } from './table.js';
import type { ModelChoice } from '../providers/model-choice.js';
import { BudgetBook, type BudgetBookOptions, type BudgetExperience, type BudgetIdentity } from './book.js';
import { grant, grantsOf, setLimit } from './edits.js';
import { BudgetOverviews, type BudgetOverview } from './overview.js';
import { BudgetWarnings, planTurn, type TurnBudget } from './planning.js';
import type { Budget, BudgetRules, BudgetUnit, BudgetUse } from './rules.js';
import { budgetStatus } from './status.js';
import type { LimitChange } from './store.js';
import type { Spend } from './totals.js';


/**
 * Budgets, one face over their uses: planning a turn (`planning.ts`), a user's status
 * (`status.ts`), the admin overview (`overview.ts`) and the admin's edits (`edits.ts`), all
 * reading one book of limits, allowances and running totals (`book.ts`).
 */
export class BudgetService {
  private readonly book: BudgetBook;
  private readonly warnings: BudgetWarnings;
  private readonly overviews: BudgetOverviews;

  constructor(options: BudgetBookOptions) {
    this.book = new BudgetBook(options);
    this.warnings = new BudgetWarnings(this.book);
    this.overviews = new BudgetOverviews(this.book);
  }

  get config(): BudgetBook['config'] {
    return this.book.config;
  }

  /** The limits of one slot as set in each layer, for showing where a limit comes from. */
  get limitRules(): BudgetRules {
    return this.book.rules;
  }

  /** Loads run-time limits and allowances and starts the running totals; before the first turn. */
  start(): Promise<void> {
    return this.book.start();
  }

  /** Another instance changed limits or allowances: read them again. */
  reload(): Promise<void> {
    return this.book.reload();
  }

  stop(): void {
    this.book.stop();
  }

  plan(user: BudgetIdentity, experience: BudgetExperience & { params: { maxTokens: number | null } }, choice: ModelChoice): Promise<TurnBudget | null> {
    return planTurn(this.book, this.warnings, user, experience, choice);
  }

  budgetsFor(user: BudgetIdentity, experience: BudgetExperience | null): Promise<Budget[]> {
    return this.book.budgetsFor(user, experience);
  }

  /** Holds `spend` against these budgets, as an answer being written does; returns the release. */
  hold(budgets: readonly Budget[], now: Date, spend: Spend): Promise<() => Promise<void>> {
    return this.book.reserve(budgets, now, spend);
  }

  statusFor(user: BudgetIdentity, experience: BudgetExperience | null): Promise<BudgetUse[]> {
    return budgetStatus(this.book, user, experience);
  }

  budgetOverview(now: Date = this.book.now()): Promise<BudgetOverview> {
    return this.overviews.at(now);
  }

  setLimit(change: Omit<LimitChange, 'at'>): Promise<void> {
    return setLimit(this.book, change);
  }

  grant(identity: string, unit: BudgetUnit, amount: number, hours: number, by: string): Promise<BudgetGrantRow> {
    return grant(this.book, identity, unit, amount, hours, by);
  }

  grantsOf(identity: string): BudgetGrantRow[] {
    return grantsOf(this.book, identity);
  }
}
