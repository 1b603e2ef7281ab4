import { writeAudit } from '../audit.js';
import type { Config } from '../config.js';
import type { Db } from '../db/open.js';
import type { BudgetGrantRow } from '../db/types.js';
import { ThreadloomError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PriceTable } from '../providers/pricing.js';
import type { ModelChoice } from '../providers/model-choice.js';
import { cheaperRouteLine, refusalLine, warningLine } from './lines.js';
import { windowOf, type PeriodWindow } from './periods.js';
import { BudgetRules, runtimeKey, type Budget, type BudgetUnit, type BudgetUse } from './rules.js';
import { activeIdentities, experienceIds, loadGrants, loadRuntimeLimits, markWarned, rolesOf, saveGrant, saveLimit, warnedIn, warningsIn, type LimitChange } from './store.js';
import { RunningTotals, type BudgetScope, type Spend } from './totals.js';
import { parseUserKey, userKey } from '../identity.js';

/** Who a turn spends for: a platform identity. */
export interface BudgetIdentity {
  platform: string;
  id: string;
}

type Extra = Record<BudgetUnit, number>;

/** A turn refused before anything reached a provider; `userMessage` names the budget, the figures and the reset. */
export class BudgetExceededError extends ThreadloomError {
  constructor(
    readonly use: BudgetUse,
    /** what this answer could have cost, when that (not the spend so far) was the reason */
    readonly need: number | null,
    userMessage: string,
  ) {
    super('rate_limited', `budget ${use.key} ${use.period} ${use.unit}: ${use.used} used + ${use.inFlight} in flight${need === null ? '' : ` + ${need} needed`} > ${use.limit + use.extra}`, { userMessage });
    this.name = 'BudgetExceededError';
  }
}

export interface BudgetServiceOptions {
  db: Db;
  config: Config;
  prices: PriceTable;
  /** providers whose models cost nothing (localProviderNames) */
  localProviders: ReadonlySet<string>;
  now: () => Date;
  log: Logger;
}

/** Everything the admin Usage page shows about budgets. */
export interface BudgetOverview {
  at: string;
  /** the warning share, e.g. 0.8 */
  warnAt: number;
  /** every budget: pooled ones, and each identity's own (set for them, by role, or with an allowance) */
  budgets: BudgetUse[];
  /** budgets at or past the warning share */
  nearOrOver: Array<BudgetUse & { state: 'near' | 'over' }>;
  /** identities with a budget of their own near or over, worst first */
  identities: Array<{ identity: string; state: 'near' | 'over'; budgets: BudgetUse[] }>;
  /** extra allowances still running */
  grants: BudgetGrantRow[];
  /** the 80% warnings given this day and month (`budget` is `<scope key>|<period>|<unit>`) */
  warnings: Array<{ budget: string; period: string; warnedAt: string }>;
}

const NO_EXTRA: Extra = { tokens: 0, usd: 0 };

function providerOf(modelId: string): string {
  return modelId.slice(0, modelId.indexOf('/'));
}


function share(use: BudgetUse, withInFlight: boolean): number {
  return (use.used + (withInFlight ? use.inFlight : 0)) / (use.limit + use.extra);
}

/**
 * Budgets: which apply to a turn, whether it may go ahead (and on which model), the hold that
 * keeps concurrent turns from overshooting together, the 80% warnings, and the admin's changes.
 */
export class BudgetService {
  private rules: BudgetRules;
  private grants: BudgetGrantRow[] = [];
  private readonly totals: RunningTotals;
  private readonly warned = new Map<string, Promise<Set<string>>>();
  private readonly activeBefore = new Map<string, Promise<string[]>>();

  constructor(private readonly options: BudgetServiceOptions) {
    this.totals = new RunningTotals(options.db, options.now);
    this.rules = new BudgetRules(options.config.budgets, new Map());
  }

  now(): Date {
    return this.options.now();
  }

  get config(): Config['budgets'] {
    return this.options.config.budgets;
  }

  /** Loads run-time limits and allowances and starts the running totals; before the first turn. */
  async start(): Promise<void> {
    const { db, log } = this.options;
    this.rules = new BudgetRules(this.config, await loadRuntimeLimits(db));
    this.grants = await loadGrants(db);
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

  /**
   * Before anything reaches a provider: refuses a turn whose budget is spent, or sends it to the
   * Experience's cheaper model when a budget is nearly spent. Null when no budget applies.
   */
  async plan(user: BudgetIdentity, experience: { id: number; slug: string; params: { maxTokens: number | null } }, choice: ModelChoice): Promise<TurnBudget | null> {
    const budgets = await this.budgetsFor(user, experience);
    if (!budgets.length) return null;
    const now = this.now();
    await this.ensure(budgets, now);
    const identity = userKey(user.platform, user.id);
    const extra = this.extraFor(identity, now);
    const usesFor = (modelId: string) => this.relevant(budgets, modelId).map((b) => this.use(b, extra, now));

    let chosen = choice;
    let notice: string | null = null;
    const route = this.config.experiences[experience.slug];
    if (route?.cheaperModel && route.cheaperModel !== choice.modelId) {
      const tightest = usesFor(choice.modelId).sort((a, b) => share(b, true) - share(a, true))[0];
      if (tightest && share(tightest, true) >= route.cheaperAt) {
        chosen = { ...choice, modelId: route.cheaperModel, candidates: [route.cheaperModel] };
        notice = cheaperRouteLine(tightest, route.cheaperModel, choice.modelId);
      }
    }
    const spent = usesFor(chosen.modelId).find((u) => share(u, true) >= 1);
    if (spent) throw this.refusal(spent, now, null);
    const answerTokens = experience.params.maxTokens ?? this.options.config.context.reservedAnswerTokens;
    return new TurnBudget(this, identity, this.relevant(budgets, chosen.modelId), chosen, notice, answerTokens);
  }

  /** Every budget a turn of this identity meets: their own (or their role's), the Experience's, the platform's, the team's. */
  async budgetsFor(user: BudgetIdentity, experience: { id: number; slug: string } | null): Promise<Budget[]> {
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

  /** How each budget of this identity (in this Experience) stands now: for `usage` and `budget`. */
  async statusFor(user: BudgetIdentity, experience: { id: number; slug: string } | null): Promise<BudgetUse[]> {
    const budgets = await this.budgetsFor(user, experience);
    const now = this.now();
    await this.ensure(budgets, now);
    const extra = this.extraFor(userKey(user.platform, user.id), now);
    return budgets.map((b) => this.use(b, extra, now));
  }

  /**
   * Every budget with its spend, and who is near or over: what the admin Usage page renders.
   * `now` is the current time (the page's clock); periods already past are not kept.
   */
  async budgetOverview(now: Date = this.now()): Promise<BudgetOverview> {
    const { rules } = this;
    const pooled: Budget[] = [...rules.budgets('global', '', { kind: 'global' })];
    for (const platform of rules.targets('platform')) pooled.push(...rules.budgets('platform', platform, { kind: 'platform', platform }));
    const slugs = rules.targets('experience');
    const ids = await experienceIds(this.options.db, slugs);
    for (const slug of slugs) {
      const id = ids.get(slug);
      if (id !== undefined) pooled.push(...rules.budgets('experience', slug, { kind: 'experience', experienceId: id }));
    }

    const grants = this.grants.filter((g) => new Date(g.expires_at) > now);
    const month = windowOf('monthly', now);
    const names = new Set([...rules.targets('user'), ...grants.map((g) => g.identity), ...(await this.activeIn(month)), ...this.totals.observedUsers(month)]);
    const people = [...names].map(parseUserKey).filter((p): p is { platform: string; userId: string } => p !== null);
    const roles = rules.hasRoleLimits ? await rolesOf(this.options.db, people) : new Map<string, string>();
    const own = people.flatMap((p) => {
      const identity = userKey(p.platform, p.userId);
      const role = rules.hasRoleLimits ? (roles.get(identity) ?? this.defaultRole(identity)) : null;
      return rules.budgets('user', identity, { kind: 'user', platform: p.platform, userId: p.userId }, role);
    });

    const all = [...pooled, ...own];
    await this.ensure(all, now);
    const budgets = all.map((b) => this.use(b, b.level === 'user' ? this.extraFor(b.target, now) : NO_EXTRA, now));
    const nearOrOver = budgets
      .filter((u) => share(u, false) >= this.config.warnAt)
      .map((u) => ({ ...u, state: share(u, false) >= 1 ? ('over' as const) : ('near' as const) }))
      .sort((a, b) => share(b, false) - share(a, false));
    const byIdentity = new Map<string, BudgetOverview['identities'][number]>();
    for (const u of nearOrOver.filter((n) => n.level === 'user')) {
      const entry = byIdentity.get(u.target) ?? { identity: u.target, state: u.state, budgets: [] };
      entry.budgets.push(u);
      if (u.state === 'over') entry.state = 'over';
      byIdentity.set(u.target, entry);
    }
    const warnings = await warningsIn(this.options.db, [windowOf('daily', now).id, month.id]);
    return { at: now.toISOString(), warnAt: this.config.warnAt, budgets, nearOrOver, identities: [...byIdentity.values()], grants, warnings };
  }

  /** Sets (a number), lifts (null) or hands back to config (undefined) one limit. */
  async setLimit(change: Omit<LimitChange, 'at'>): Promise<void> {
    await saveLimit(this.options.db, { ...change, at: this.now() });
    const runtime = new Map(this.rules.runtime);
    const key = runtimeKey(change.scope, change.target, change.period, change.unit);
    if (change.amount === undefined) runtime.delete(key);
    else runtime.set(key, change.amount);
    this.rules = new BudgetRules(this.config, runtime);
    const value = change.amount === undefined ? 'config' : change.amount === null ? 'none' : String(change.amount);
    await writeAudit(this.options.db, { actor: change.by, action: 'budget.set', target: `${change.scope}:${change.target}`, detail: `${change.period} ${change.unit} ${value}` });
  }

  /** A temporary extra allowance: `amount` more on every limit the identity's turns meet, for `hours`. */
  async grant(identity: string, unit: BudgetUnit, amount: number, hours: number, by: string): Promise<BudgetGrantRow> {
    const expiresAt = new Date(this.now().getTime() + hours * 3_600_000);
    const row = await saveGrant(this.options.db, { identity, unit, amount, expiresAt, by });
    this.grants = [...this.grants.filter((g) => !(g.identity === identity && g.unit === unit)), row];
    await writeAudit(this.options.db, { actor: by, action: 'budget.override', target: identity, detail: `${unit} +${amount} until ${row.expires_at}` });
    return row;
  }

  /** The allowances of an identity still running. */
  grantsOf(identity: string): BudgetGrantRow[] {
    const now = this.now();
    return this.grants.filter((g) => g.identity === identity && new Date(g.expires_at) > now);
  }

  /** The limits of one slot as set in each layer, for showing where a limit comes from. */
  get limitRules(): BudgetRules {
    return this.rules;
  }

  // ---- for TurnBudget ----

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

  hold(budgets: readonly Budget[], now: Date, spend: Spend): () => void {
    return this.totals.hold(
      budgets.map((b): { scope: BudgetScope; window: PeriodWindow } => ({ scope: b.scope, window: windowOf(b.period, now) })),
      spend,
    );
  }

  extraFor(identity: string, now: Date): Extra {
    const extra = { ...NO_EXTRA };
    for (const g of this.grants) if (g.identity === identity && new Date(g.expires_at) > now) extra[g.unit as BudgetUnit] += g.amount;
    return extra;
  }

  refusal(use: BudgetUse, now: Date, need: number | null): BudgetExceededError {
    return new BudgetExceededError(use, need, refusalLine(use, now, need));
  }

  costOf(modelId: string, promptTokens: number, answerTokens: number): number {
    return this.options.prices.cost(modelId, { inputTokens: promptTokens, outputTokens: answerTokens });
  }

  /** True the first time a budget reaches the warning share in its period, here or before a restart. */
  async claimWarning(use: BudgetUse): Promise<boolean> {
    let pending = this.warned.get(use.periodId);
    if (!pending) {
      pending = warnedIn(this.options.db, use.periodId);
      this.warned.set(use.periodId, pending);
    }
    const given = await pending;
    const budget = `${use.key}|${use.period}|${use.unit}`;
    if (given.has(budget)) return false;
    given.add(budget);
    await markWarned(this.options.db, budget, use.periodId, this.now());
    return true;
  }

  /**
   * Money budgets leave local models alone when they are exempt; token budgets always apply. A
   * model is local when its provider is (Ollama, a LAN server) and it costs nothing: a LAN proxy
   * in front of a paid API has a price and stays counted.
   */
  private relevant(budgets: readonly Budget[], modelId: string): Budget[] {
    const price = this.options.prices.priceOf(modelId);
    const free = price === null || (price.input === 0 && price.output === 0);
    const exempt = this.config.exemptLocalFromMoney && free && this.options.localProviders.has(providerOf(modelId));
    return budgets.filter((b) => b.unit === 'tokens' || !exempt);
  }

  private async roleOf(platform: string, userId: string): Promise<string> {
    const identity = userKey(platform, userId);
    return (await rolesOf(this.options.db, [{ platform, userId }])).get(identity) ?? this.defaultRole(identity);
  }

  /** Without a row in `users`: admins named in config are `admin`, everyone else `user`. */
  private defaultRole(identity: string): string {
    return this.options.config.admins.includes(identity) ? 'admin' : 'user';
  }

  /** Identities with usage this month before start (fixed from then on; the totals see the rest). */
  private activeIn(month: PeriodWindow): Promise<string[]> {
    let pending = this.activeBefore.get(month.id);
    if (!pending) {
      pending = activeIdentities(this.options.db, month);
      this.activeBefore.set(month.id, pending);
    }
    return pending;
  }
}

/**
 * One turn's dealings with its budgets: the model it may use, the hold on what its answer may
 * cost, and the lines to show under the answer.
 */
export class TurnBudget {
  private releaseHold: (() => void) | null = null;

  constructor(
    private readonly service: BudgetService,
    private readonly identity: string,
    /** the budgets this turn's model is checked against */
    private readonly budgets: readonly Budget[],
    /** the model to use: the chosen one, or the Experience's cheaper one */
    readonly choice: ModelChoice,
    /** set when the cheaper model answers instead: says so under the answer */
    readonly notice: string | null,
    private readonly answerTokens: number,
  ) {}

  /**
   * Holds the prompt plus the longest answer, priced at the model's rate, against every budget;
   * refuses when one cannot take it on top of what is spent and what other answers hold.
   */
  async reserve(promptTokens: number): Promise<void> {
    const { service } = this;
    const now = service.now();
    await service.ensure(this.budgets, now);
    const need: Spend = { tokens: promptTokens + this.answerTokens, usd: service.costOf(this.choice.modelId, promptTokens, this.answerTokens) };
    // nothing awaits from the check to the hold: turns running at once each see the others' holds
    const extra = service.extraFor(this.identity, now);
    for (const budget of this.budgets) {
      const use = service.use(budget, extra, now);
      if (use.used + use.inFlight + need[use.unit] > use.limit + use.extra) throw service.refusal(use, now, need[use.unit]);
    }
    this.release();
    this.releaseHold = service.hold(this.budgets, now, need);
  }

  /** After the usage is recorded: the cheaper-model line and any first warnings of this period. */
  async notes(): Promise<string[]> {
    const { service } = this;
    const now = service.now();
    await service.ensure(this.budgets, now);
    const extra = service.extraFor(this.identity, now);
    const lines = this.notice ? [this.notice] : [];
    for (const budget of this.budgets) {
      const use = service.use(budget, extra, now);
      if (share(use, false) >= service.config.warnAt && (await service.claimWarning(use))) lines.push(warningLine(use, now));
    }
    return lines;
  }

  /** Lets go of the hold; the recorded usage has taken its place. */
  release(): void {
    this.releaseHold?.();
    this.releaseHold = null;
  }
}
