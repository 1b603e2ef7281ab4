import type { BudgetGrantRow } from './table.js';
import { parseUserKey, userKey } from '../identity.js';
import { NO_EXTRA, share, type BudgetBook } from './book.js';
import { windowOf, type PeriodWindow } from './periods.js';
import type { Budget, BudgetUse } from './rules.js';
import { activeIdentities, experienceIds, rolesOf, warningsIn } from './store.js';

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

/** The admin's view over every budget: pooled ones and everyone's own, and who is near or over. */
export class BudgetOverviews {
  private readonly activeBefore = new Map<string, Promise<string[]>>();

  constructor(private readonly book: BudgetBook) {}

  /** `now` is the current time (the page's clock); periods already past are not kept. */
  async at(now: Date): Promise<BudgetOverview> {
    const { book } = this;
    const grants = book.grants.filter((g) => new Date(g.expires_at) > now);
    const month = windowOf('monthly', now);
    const all = [...(await this.pooled()), ...(await this.own(grants, month))];
    await book.ensure(all, now);
    const budgets = all.map((b) => book.use(b, b.level === 'user' ? book.extraFor(b.target, now) : NO_EXTRA, now));
    const nearOrOver = budgets
      .filter((u) => share(u, false) >= book.config.warnAt)
      .map((u) => ({ ...u, state: share(u, false) >= 1 ? ('over' as const) : ('near' as const) }))
      .sort((a, b) => share(b, false) - share(a, false));
    const byIdentity = new Map<string, BudgetOverview['identities'][number]>();
    for (const u of nearOrOver.filter((n) => n.level === 'user')) {
      const entry = byIdentity.get(u.target) ?? { identity: u.target, state: u.state, budgets: [] };
      entry.budgets.push(u);
      if (u.state === 'over') entry.state = 'over';
      byIdentity.set(u.target, entry);
    }
    const warnings = await warningsIn(book.options.db, [windowOf('daily', now).id, month.id]);
    return { at: now.toISOString(), warnAt: book.config.warnAt, budgets, nearOrOver, identities: [...byIdentity.values()], grants, warnings };
  }

  /** The budgets everyone shares: the team's, each platform's, each Experience's. */
  private async pooled(): Promise<Budget[]> {
    const { rules } = this.book;
    const pooled: Budget[] = [...rules.budgets('global', '', { kind: 'global' })];
    for (const platform of rules.targets('platform')) pooled.push(...rules.budgets('platform', platform, { kind: 'platform', platform }));
    const slugs = rules.targets('experience');
    const ids = await experienceIds(this.book.options.db, slugs);
    for (const slug of slugs) {
      const id = ids.get(slug);
      if (id !== undefined) pooled.push(...rules.budgets('experience', slug, { kind: 'experience', experienceId: id }));
    }
    return pooled;
  }

  /** Each identity's own budgets: those with a limit, an allowance, or usage this month. */
  private async own(grants: readonly BudgetGrantRow[], month: PeriodWindow): Promise<Budget[]> {
    const { book } = this;
    const { rules } = book;
    const names = new Set([...rules.targets('user'), ...grants.map((g) => g.identity), ...(await this.activeIn(month)), ...book.totals.observedUsers(month)]);
    const people = [...names].map(parseUserKey).filter((p): p is { platform: string; userId: string } => p !== null);
    const roles = rules.hasRoleLimits ? await rolesOf(book.options.db, people) : new Map<string, string>();
    return people.flatMap((p) => {
      const identity = userKey(p.platform, p.userId);
      const role = rules.hasRoleLimits ? (roles.get(identity) ?? book.defaultRole(identity)) : null;
      return rules.budgets('user', identity, { kind: 'user', platform: p.platform, userId: p.userId }, role);
    });
  }

  /** Identities with usage this month before start (fixed from then on; the totals see the rest). */
  private activeIn(month: PeriodWindow): Promise<string[]> {
    let pending = this.activeBefore.get(month.id);
    if (!pending) {
      pending = activeIdentities(this.book.options.db, month);
      this.activeBefore.set(month.id, pending);
    }
    return pending;
  }
}
