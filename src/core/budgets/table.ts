import type { Generated, Selectable } from 'kysely';

/**
 * The budget tables, and the unions their columns hold: rules.ts (LimitScope, BudgetUnit) and
 * periods.ts (BudgetPeriod) name them from here, since the table list must import nothing that
 * reads the database.
 */
export type BudgetLimitScope = 'global' | 'platform' | 'experience' | 'role' | 'user';
export type BudgetPeriodName = 'daily' | 'monthly';
export type BudgetUnitName = 'tokens' | 'usd';

/** Budget limits set at run time by admins (migration 2026-11-22T0300); config holds the rest. */
export interface BudgetLimitTable {
  scope: BudgetLimitScope;
  /** '' (global), a platform, an Experience slug, a role, or an identity `platform:userId` */
  target: string;
  period: BudgetPeriodName;
  unit: BudgetUnitName;
  /** null: no limit at this level, whatever config says */
  amount: number | null;
  updated_by: string | null;
  updated_at: Generated<string>;
}

/** A temporary extra allowance for one identity, on every limit its turns meet. */
export interface BudgetGrantTable {
  identity: string;
  unit: BudgetUnitName;
  amount: number;
  expires_at: string;
  granted_by: string | null;
  created_at: Generated<string>;
}

/** The 80% warnings already given: one per budget and period. */
export interface BudgetWarningTable {
  /** `<scope key>|<daily|monthly>|<unit>` */
  budget: string;
  /** `2026-11-22` or `2026-11` (UTC) */
  period: string;
  warned_at: Generated<string>;
}

/** What an answer being written may still spend, seen by every instance sharing PostgreSQL. */
export interface BudgetHoldTable {
  id: Generated<number>;
  /** the instance writing the answer: its holds go when its lease lapses */
  holder: string;
  /** `<scope key>|<period id>` */
  budget_key: string;
  tokens: number;
  usd: number;
  /** ms since the epoch (the database's clock): a hold never outlives this */
  expires_at: number;
}

export type BudgetLimitRow = Selectable<BudgetLimitTable>;
export type BudgetGrantRow = Selectable<BudgetGrantTable>;
export type BudgetWarningRow = Selectable<BudgetWarningTable>;
