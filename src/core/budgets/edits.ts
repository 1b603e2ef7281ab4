import { writeAudit } from '../audit.js';
import type { BudgetGrantRow } from './table.js';
import type { BudgetBook } from './book.js';
import { runtimeKey, type BudgetUnit } from './rules.js';
import { saveGrant, saveLimit, type LimitChange } from './store.js';

/** The admin's changes, from chat or the admin page: each is saved, takes effect at once and is audited. */

/** Sets (a number), lifts (null) or hands back to config (undefined) one limit. */
export async function setLimit(book: BudgetBook, change: Omit<LimitChange, 'at'>): Promise<void> {
  const { db } = book.options;
  await saveLimit(db, { ...change, at: book.now() });
  const runtime = new Map(book.rules.runtime);
  const key = runtimeKey(change.scope, change.target, change.period, change.unit);
  if (change.amount === undefined) runtime.delete(key);
  else runtime.set(key, change.amount);
  book.replaceRuntimeLimits(runtime);
  await book.options.changes?.saved('budgets');
  const value = change.amount === undefined ? 'config' : change.amount === null ? 'none' : String(change.amount);
  await writeAudit(db, { actor: change.by, action: 'budget.set', target: `${change.scope}:${change.target}`, detail: `${change.period} ${change.unit} ${value}` });
}

/** A temporary extra allowance: `amount` more on every limit the identity's turns meet, for `hours`. */
export async function grant(book: BudgetBook, identity: string, unit: BudgetUnit, amount: number, hours: number, by: string): Promise<BudgetGrantRow> {
  const { db } = book.options;
  const expiresAt = new Date(book.now().getTime() + hours * 3_600_000);
  const row = await saveGrant(db, { identity, unit, amount, expiresAt, by });
  book.putGrant(row);
  await book.options.changes?.saved('budgets');
  await writeAudit(db, { actor: by, action: 'budget.override', target: identity, detail: `${unit} +${amount} until ${row.expires_at}` });
  return row;
}

/** The allowances of an identity still running. */
export function grantsOf(book: BudgetBook, identity: string): BudgetGrantRow[] {
  const now = book.now();
  return book.grants.filter((g) => g.identity === identity && new Date(g.expires_at) > now);
}
