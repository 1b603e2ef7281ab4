import type { Config } from '../config.js';
import type { Db } from '../db/open.js';
import type { BudgetGrantRow } from './table.js';
import { userKey } from '../identity.js';
import type { Logger } from '../log.js';
import type { PriceTable } from '../providers/pricing.js';
import { windowOf, type PeriodWindow } from './periods.js';
import { BudgetRules, type Budget, type BudgetUnit, type BudgetUse, type RuntimeLimits } from './rules.js';
import { loadGrants, loadRuntimeLimits, rolesOf } from './store.js';
import { RunningTotals, type BudgetScope, type Spend } from './totals.js';

/** Who a turn spends for: a platform identity. */
export interface BudgetIdentity {
  platform: string;
  id: string;
}

/** The Experience a turn runs in, as budgets know it (limits are set by slug, totals kept by id). */
export interface BudgetExperience {
  id: number;
  slug: string;
}

export type Extra = Record<BudgetUnit, number>;

export const NO_EXTRA: Extra = { tokens: 0, usd: 0 };

export interface BudgetBookOptions {
  db: Db;
  config: Config;
  prices: PriceTable;
  /** providers whose models cost nothing (localProviderNames) */
  localProviders: ReadonlySet<string>;
  now: () => Date;
  log: Logger;
  /** tells other instances sharing the database that limits or allowances changed */
  changes?: { saved(topic: 'budgets'): Promise<void> };
  /** this instance's name on the holds other instances sharing PostgreSQL see */
  instance?: string;
}

export function providerOf(modelId: string): string {
  return modelId.slice(0, modelId.indexOf('/'));
}

/** How much of a budget is spent (and, with `withInFlight`, held by answers being written). */
export function share(use: BudgetUse, withInFlight: boolean): number {
  return (use.used + (withInFlight ? use.inFlight : 0)) / (use.limit + use.extra);
}

/**
 * What every use of budgets reads: the limits in force, the allowances still running, and the
 * running totals with their holds. Planning, status, the overview and the admin's edits share one.
 */
export class BudgetBook {
  private currentRules: BudgetRules;
  private currentGrants: BudgetGrantRow[] = [];
  readonly totals: RunningTotals;

  constructor(readonly options: BudgetBookOptions) {
    this.totals = new RunningTotals(options.db, options.now, options.instance);
    this.currentRules = new BudgetRules(options.config.budgets, new Map());
  }

  now(): Date {
    return this.options.now();
  }

  get config(): Config['budgets'] {
    return this.options.config.budgets;
  }

  get rules(): BudgetRules {
    return this.currentRules;
  }

  /** Every allowance loaded or granted since, expired ones included. */
  get grants(): readonly BudgetGrantRow[] {
    return this.currentGrants;
  }

  /** Loads run-time limits and allowances and starts the running totals; before the first turn. */
  async start(): Promise<void> {
    const { db, log } = this.options;
    this.currentRules = new BudgetRules(this.config, await loadRuntimeLimits(db));
    this.currentGrants = await loadGrants(db);
    await this.totals.start();
    for (const [slug, experience] of Object.entries(this.config.experiences)) {
      const provider = experience.cheaperModel && providerOf(experience.cheaperModel);
      if (provider && !this.options.config.providers[provider]) {
        log.warn(`budgets.experiences.${slug}.cheaperModel: no provider named "${provider}" is configured; the cheaper route will fail`);
      }
    }
  }

  stop(): void {
    this.totals.stop();
  }

  /** Another instance changed limits or allowances: read them again. */
  async reload(): Promise<void> {
    const { db } = this.options;
    const [limits, grants] = await Promise.all([loadRuntimeLimits(db), loadGrants(db)]);
    this.currentRules = new BudgetRules(this.config, limits);
    this.currentGrants = grants;
  }

  replaceRuntimeLimits(runtime: RuntimeLimits): void {
    this.currentRules = new BudgetRules(this.config, runtime);
  }

  /** A new allowance replaces the identity's earlier one in the same unit. */
  putGrant(row: BudgetGrantRow): void {
    this.currentGrants = [...this.currentGrants.filter((g) => !(g.identity === row.identity && g.unit === row.unit)), row];
  }

  /** Every budget a turn of this identity meets: their own (or their role's), the Experience's, the platform's, the team's. */
  async budgetsFor(user: BudgetIdentity, experience: BudgetExperience | null): Promise<Budget[]> {
    const { rules } = this;
    const identity = userKey(user.platform, user.id);
    const role = rules.hasRoleLimits ? await this.roleOf(user.platform, user.id) : null;
    return [
      ...rules.budgets('user', identity, { kind: 'user', platform: user.platform, userId: user.id }, role),
      ...(experience ? rules.budgets('experience', experience.slug, { kind: 'experience', experienceId: experience.id }) : []),
      ...rules.budgets('platform', user.platform, { kind: 'platform', platform: user.platform }),
      ...rules.budgets('global', '', { kind: 'global' }),
    ];
  }

  async ensure(budgets: readonly Budget[], now: Date): Promise<void> {
    await Promise.all(budgets.map((b) => this.totals.ensure(b.scope, windowOf(b.period, now))));
  }

  /** How one budget stands; `ensure` first. */
  use(budget: Budget, extra: Extra, now: Date): BudgetUse {
    const window = windowOf(budget.period, now);
    const used = this.totals.used(budget.scope, window)[budget.unit];
    const inFlight = this.totals.inFlight(budget.scope, window)[budget.unit];
    const allowance = budget.limit + extra[budget.unit];
    return { ...budget, periodId: window.id, used, inFlight, extra: extra[budget.unit], percent: Math.round((used / allowance) * 1000) / 10, resetsAt: window.end.toISOString() };
  }

  /** `check` on fresh totals, then holds `spend` against each budget (see RunningTotals.reserve). */
  reserve(budgets: readonly Budget[], now: Date, spend: Spend, check: () => void = () => undefined): Promise<() => Promise<void>> {
    return this.totals.reserve(
      budgets.map((b): { scope: BudgetScope; window: PeriodWindow } => ({ scope: b.scope, window: windowOf(b.period, now) })),
      spend,
      check,
    );
  }

  extraFor(identity: string, now: Date): Extra {
    const extra = { ...NO_EXTRA };
    for (const g of this.currentGrants) if (g.identity === identity && new Date(g.expires_at) > now) extra[g.unit as BudgetUnit] += g.amount;
    return extra;
  }

  /**
   * Money budgets leave local models alone when they are exempt; token budgets always apply. A
   * model is local when its provider is (Ollama, a LAN server) and it costs nothing: a LAN proxy
   * in front of a paid API stays counted only when config `prices` gives its model a price.
   */
  relevant(budgets: readonly Budget[], modelId: string): Budget[] {
    const price = this.options.prices.priceOf(modelId);
    const free = price === null || (price.input === 0 && price.output === 0);
    const exempt = this.config.exemptLocalFromMoney && free && this.options.localProviders.has(providerOf(modelId));
    return budgets.filter((b) => b.unit === 'tokens' || !exempt);
  }

  /** Without a row in `users`: admins named in config are `admin`, everyone else `user`. */
  defaultRole(identity: string): string {
    return this.options.config.admins.includes(identity) ? 'admin' : 'user';
  }

  private async roleOf(platform: string, userId: string): Promise<string> {
    const identity = userKey(platform, userId);
    return (await rolesOf(this.options.db, [{ platform, userId }])).get(identity) ?? this.defaultRole(identity);
  }
}
