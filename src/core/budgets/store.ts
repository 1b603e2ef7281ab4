import type { Db } from '../db/open.js';
import type { BudgetGrantRow } from './table.js';
import type { PeriodWindow, BudgetPeriod } from './periods.js';
import { runtimeKey, type BudgetUnit, type LimitScope, type RuntimeLimits } from './rules.js';
import { userKey } from '../identity.js';
import { usersByIds } from '../users/repository.js';

/** Budget state in the database: run-time limits, extra allowances, warnings given. */

export async function loadRuntimeLimits(db: Db): Promise<RuntimeLimits> {
  const rows = await db.selectFrom('budget_limits').selectAll().execute();
  return new Map(rows.map((r) => [runtimeKey(r.scope as LimitScope, r.target, r.period as BudgetPeriod, r.unit as BudgetUnit), r.amount]));
}

export interface LimitChange {
  scope: LimitScope;
  target: string;
  period: BudgetPeriod;
  unit: BudgetUnit;
  /** a number, null for "no limit here", or undefined to fall back to config */
  amount: number | null | undefined;
  by: string;
  at: Date;
}

export async function saveLimit(db: Db, change: LimitChange): Promise<void> {
  const key = { scope: change.scope, target: change.target, period: change.period, unit: change.unit };
  if (change.amount === undefined) {
    await db.deleteFrom('budget_limits').where('scope', '=', key.scope).where('target', '=', key.target).where('period', '=', key.period).where('unit', '=', key.unit).execute();
    return;
  }
  const values = { amount: change.amount, updated_by: change.by, updated_at: change.at.toISOString() };
  await db
    .insertInto('budget_limits')
    .values({ ...key, ...values })
    .onConflict((oc) => oc.columns(['scope', 'target', 'period', 'unit']).doUpdateSet(values))
    .execute();
}

export async function loadGrants(db: Db): Promise<BudgetGrantRow[]> {
  return db.selectFrom('budget_grants').selectAll().execute();
}

export async function saveGrant(db: Db, grant: { identity: string; unit: BudgetUnit; amount: number; expiresAt: Date; by: string }): Promise<BudgetGrantRow> {
  const values = { amount: grant.amount, expires_at: grant.expiresAt.toISOString(), granted_by: grant.by };
  return db
    .insertInto('budget_grants')
    .values({ identity: grant.identity, unit: grant.unit, ...values })
    .onConflict((oc) => oc.columns(['identity', 'unit']).doUpdateSet(values))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The budgets already warned about in one period (`2026-11-22` or `2026-11`). */
export async function warnedIn(db: Db, period: string): Promise<Set<string>> {
  const rows = await db.selectFrom('budget_warnings').select('budget').where('period', '=', period).execute();
  return new Set(rows.map((r) => r.budget));
}

/** The warnings given in these periods, newest first: the admin page's list of who was told. */
export async function warningsIn(db: Db, periods: readonly string[]): Promise<Array<{ budget: string; period: string; warnedAt: string }>> {
  const rows = await db.selectFrom('budget_warnings').selectAll().where('period', 'in', [...periods]).orderBy('warned_at', 'desc').execute();
  return rows.map((r) => ({ budget: r.budget, period: r.period, warnedAt: r.warned_at }));
}

export async function markWarned(db: Db, budget: string, period: string, at: Date): Promise<void> {
  await db.insertInto('budget_warnings').values({ budget, period, warned_at: at.toISOString() }).onConflict((oc) => oc.doNothing()).execute();
}

/** Roles recorded in `users`, by identity `platform:userId`. */
export async function rolesOf(db: Db, identities: ReadonlyArray<{ platform: string; userId: string }>): Promise<Map<string, string>> {
  const roles = new Map<string, string>();
  for (const user of await usersByIds(db, identities.map((i) => i.userId))) roles.set(userKey(user.platform, user.userId), user.role);
  return roles;
}

/** Identities with any usage in a period, from the ledger's time index. */
export async function activeIdentities(db: Db, window: PeriodWindow): Promise<string[]> {
  const rows = await db
    .selectFrom('usage_events')
    .select(['platform', 'user_id'])
    .distinct()
    .where('created_at', '>=', window.start.toISOString())
    .where('created_at', '<', window.end.toISOString())
    .where('platform', 'is not', null)
    .where('user_id', 'is not', null)
    .execute();
  // both are filtered non-null above; the row type cannot say so
  return rows.map((r) => userKey(r.platform!, r.user_id!));
}

/** Ids of Experiences by slug (budgets are set by slug; usage rows carry the id). */
export async function experienceIds(db: Db, slugs: readonly string[]): Promise<Map<string, number>> {
  if (!slugs.length) return new Map();
  const rows = await db.selectFrom('experiences').select(['id', 'slug']).where('slug', 'in', [...slugs]).execute();
  return new Map(rows.map((r) => [r.slug, r.id]));
}
