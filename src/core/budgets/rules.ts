import type { BudgetLimits, BudgetsConfig } from '../config.js';
import { BUDGET_PERIODS, type BudgetPeriod } from './periods.js';
import { scopeKey, type BudgetScope } from './totals.js';
import type { BudgetLimitScope, BudgetUnitName } from './table.js';

/** The four levels a turn's spending is checked at. */
export type BudgetLevel = 'user' | 'experience' | 'platform' | 'global';
export type BudgetUnit = BudgetUnitName;
export const BUDGET_UNITS: readonly BudgetUnit[] = ['tokens', 'usd'];

/** Where a limit can be set: the four levels, and roles (each member's own user-level limit). */
export type LimitScope = BudgetLimitScope;

/** One limit on one scope's spending in one period. */
export interface Budget {
  level: BudgetLevel;
  scope: BudgetScope;
  /** the running total it reads, e.g. `user:discord:81234` */
  key: string;
  /** '' (global), a platform, an Experience slug, or an identity `platform:userId` */
  target: string;
  period: BudgetPeriod;
  unit: BudgetUnit;
  limit: number;
  /** `config` or `admin` (set in chat or on the admin page), with the role a user's limit came through */
  source: string;
}

/** Limits set at run time, by `scope|target|period|unit`; null means "no limit here". */
export type RuntimeLimits = Map<string, number | null>;

export function runtimeKey(scope: LimitScope, target: string, period: BudgetPeriod, unit: BudgetUnit): string {
  return `${scope}|${target}|${period}|${unit}`;
}

/**
 * Which limits apply, from two layers: what admins set at run time wins over config, slot by slot
 * (a period and a unit). A user's own limit wins over their role's.
 */
export class BudgetRules {
  constructor(
    private readonly config: BudgetsConfig,
    readonly runtime: RuntimeLimits,
  ) {}

  /** The limit of one slot and where it came from; undefined when nothing sets it. */
  slot(scope: LimitScope, target: string, period: BudgetPeriod, unit: BudgetUnit): { limit: number | null; source: 'admin' | 'config' } | undefined {
    const set = this.runtime.get(runtimeKey(scope, target, period, unit));
    if (set !== undefined) return { limit: set, source: 'admin' };
    const configured = this.configured(scope, target)?.[period]?.[unit];
    return configured === undefined ? undefined : { limit: configured, source: 'config' };
  }

  /** The budgets of one level's target; for a user, each slot from their own limit, else their role's. */
  budgets(level: BudgetLevel, target: string, scope: BudgetScope, role: string | null = null): Budget[] {
    const budgets: Budget[] = [];
    for (const period of BUDGET_PERIODS) {
      for (const unit of ['tokens', 'usd'] as const) {
        const own = this.slot(level, target, period, unit);
        const byRole = !own && level === 'user' && role !== null ? this.slot('role', role, period, unit) : undefined;
        const found = own ?? byRole;
        if (!found || found.limit === null) continue;
        const source = byRole ? `${byRole.source} (role ${role})` : found.source;
        budgets.push({ level, scope, key: scopeKey(scope), target, period, unit, limit: found.limit, source });
      }
    }
    return budgets;
  }

  /** Whether a user's role matters at all (so it is looked up only then). */
  get hasRoleLimits(): boolean {
    return Object.keys(this.config.roles).length > 0 || [...this.runtime.keys()].some((k) => k.startsWith('role|'));
  }

  /** Every target of a scope with a limit set in either layer. */
  targets(scope: 'platform' | 'experience' | 'user'): string[] {
    const configured = Object.keys(scope === 'platform' ? this.config.platforms : scope === 'experience' ? this.config.experiences : this.config.users);
    const set = [...this.runtime.keys()].filter((k) => k.startsWith(`${scope}|`)).map((k) => k.split('|')[1]!);
    return [...new Set([...configured, ...set])];
  }

  private configured(scope: LimitScope, target: string): BudgetLimits | undefined {
    switch (scope) {
      case 'global':
        return this.config.global;
      case 'platform':
        return this.config.platforms[target];
      case 'experience':
        return this.config.experiences[target];
      case 'role':
        return this.config.roles[target];
      case 'user':
        return this.config.users[target];
    }
  }
}

/** A budget as it stands for one identity now. */
export interface BudgetUse extends Budget {
  /** the current period: `2026-11-22` or `2026-11` (UTC) */
  periodId: string;
  /** recorded spend this period */
  used: number;
  /** what answers being written may still spend */
  inFlight: number;
  /** a temporary allowance granted to the identity, on top of `limit` */
  extra: number;
  /** `used` of `limit + extra`, in percent (one decimal) */
  percent: number;
  /** ISO time the period ends and the budget starts again from zero */
  resetsAt: string;
}
