import { sql } from 'kysely';
import { isPostgres, nowMs } from '../db/dialect.js';
import type { Db } from '../db/open.js';
import type { DbExecutor } from '../db/types.js';
import { instancesWhoseLease } from '../instances/interrupted.js';
import type { NewUsageEventRow } from '../usage/table.js';
import { observeUsage } from '../usage/ledger.js';
import { BUDGET_PERIODS, windowOf, type PeriodWindow } from './periods.js';

/** Whose spending a running total adds up. */
export type BudgetScope =
  | { kind: 'global' }
  | { kind: 'platform'; platform: string }
  | { kind: 'experience'; experienceId: number }
  | { kind: 'user'; platform: string; userId: string };

export function scopeKey(scope: BudgetScope): string {
  switch (scope.kind) {
    case 'global':
      return 'global';
    case 'platform':
      return `platform:${scope.platform}`;
    case 'experience':
      return `experience:${scope.experienceId}`;
    case 'user':
      return `user:${scope.platform}:${scope.userId}`;
  }
}

/** Tokens in + out, and money. */
export interface Spend {
  tokens: number;
  usd: number;
}

const ZERO: Spend = { tokens: 0, usd: 0 };

/** A hold outlives no answer: a turn is cut long before (and a dead instance's go with its lease). */
const HOLD_MAX_MS = 30 * 60_000;

/** What every live instance's answers hold in one (scope, period). */
async function readHolds(db: DbExecutor, key: string): Promise<Spend> {
  const row = await db
    .selectFrom('budget_holds')
    .select([sql<number>`coalesce(sum(tokens), 0)`.as('tokens'), sql<number>`coalesce(sum(usd), 0)`.as('usd')])
    .where('budget_key', '=', key)
    .where('expires_at', '>', nowMs(db))
    // an instance killed mid-answer: its holds go as its lease lapses
    .where('holder', 'not in', instancesWhoseLease(db, 'lapsed'))
    .executeTakeFirstOrThrow();
  return { tokens: Number(row.tokens), usd: Number(row.usd) };
}

function add(map: Map<string, Spend>, key: string, spend: Spend): void {
  const entry = map.get(key) ?? { tokens: 0, usd: 0 };
  entry.tokens += spend.tokens;
  entry.usd += spend.usd;
  map.set(key, entry);
}

function scopesOf(row: NewUsageEventRow): BudgetScope[] {
  const scopes: BudgetScope[] = [{ kind: 'global' }];
  if (row.platform) scopes.push({ kind: 'platform', platform: row.platform });
  if (row.experience_id != null) scopes.push({ kind: 'experience', experienceId: row.experience_id });
  if (row.platform && row.user_id) scopes.push({ kind: 'user', platform: row.platform, userId: row.user_id });
  return scopes;
}

/**
 * Spending per scope and period, without reading the ledger on every turn. What was recorded
 * before this process started is read once per (scope, period) with one indexed range query,
 * limited to the ledger rows that existed at start (`id <= startId`); everything recorded since
 * is added as the ledger writes it. The two never overlap, so no row is counted twice however
 * the first read and a concurrent write interleave. Holds are what answers being written may
 * still spend.
 *
 * On PostgreSQL other instances write to the same ledger, and this process sees only its own
 * writes: there each check reads the period's spend afresh from the usage rollups (what every
 * instance recorded), and only the holds stay this process's own.
 */
export class RunningTotals {
  private startId = 0;
  private startedAt = new Date(0);
  private readonly baselines = new Map<string, Spend>();
  private readonly loading = new Map<string, Promise<void>>();
  private readonly observed = new Map<string, Spend>();
  private readonly held = new Map<string, Spend & { holds: number }>();
  private stopObserving: (() => void) | null = null;
  private currentDay = '';
  /** several instances may share the ledger: read it at each check */
  private readonly shared: boolean;

  /** shared: what every instance's answers hold, as last read */
  private readonly sharedHeld = new Map<string, Spend>();

  constructor(
    private readonly db: Db,
    private readonly now: () => Date,
    /** this instance's name on its holds when the ledger is shared */
    private readonly holder = 'threadloom',
  ) {
    this.shared = isPostgres(db);
  }

  /** Call before the first turn: nothing may be recorded between this and the reads it anchors. */
  async start(): Promise<void> {
    this.stopObserving = observeUsage(this.db, (rows) => this.observe(rows));
    const row = await this.db.selectFrom('usage_events').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
    this.startId = Number(row?.id ?? 0);
    this.startedAt = this.now();
  }

  stop(): void {
    this.stopObserving?.();
    this.stopObserving = null;
  }

  /** Reads what the ledger held for this scope and period before start, once. */
  async ensure(scope: BudgetScope, window: PeriodWindow): Promise<void> {
    this.rollOver(window);
    const key = `${scopeKey(scope)}|${window.id}`;
    if (this.shared) {
      const [spent, held] = await Promise.all([this.readRollup(scope, window, this.db), readHolds(this.db, key)]);
      this.baselines.set(key, spent);
      this.sharedHeld.set(key, held);
      return;
    }
    if (this.baselines.has(key)) return;
    // a period that began after start has had every one of its rows observed
    if (window.start.getTime() >= this.startedAt.getTime()) {
      this.baselines.set(key, { ...ZERO });
      return;
    }
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.read(scope, window, true).then((spend) => {
        this.baselines.set(key, spend);
        this.loading.delete(key);
      });
      this.loading.set(key, pending);
    }
    await pending;
  }

  /** Recorded spend; `ensure` first. */
  used(scope: BudgetScope, window: PeriodWindow): Spend {
    const key = `${scopeKey(scope)}|${window.id}`;
    const base = this.baselines.get(key) ?? ZERO;
    // shared: the fresh read holds this process's writes too
    const seen = this.shared ? ZERO : (this.observed.get(key) ?? ZERO);
    return { tokens: base.tokens + seen.tokens, usd: base.usd + seen.usd };
  }

  /** What answers being written may still spend (on every instance, when the ledger is shared). */
  inFlight(scope: BudgetScope, window: PeriodWindow): Spend {
    if (this.shared) return { ...(this.sharedHeld.get(`${scopeKey(scope)}|${window.id}`) ?? ZERO) };
    const entry = this.held.get(`${scopeKey(scope)}|${window.id}`);
    return entry ? { tokens: entry.tokens, usd: entry.usd } : { ...ZERO };
  }

  /**
   * `check` (which throws to refuse) on fresh totals, then holds `spend` in each (scope, period)
   * until the returned function is called. Shared: under a lock per (scope, period) in the
   * database, so instances checking at once each see the others' holds; one instance: in memory,
   * with nothing awaited between the check and the hold.
   */
  async reserve(places: ReadonlyArray<{ scope: BudgetScope; window: PeriodWindow }>, spend: Spend, check: () => void): Promise<() => Promise<void>> {
    if (!this.shared || places.length === 0) {
      check();
      const release = this.hold(places, spend);
      return async () => release();
    }
    const keyed = new Map(places.map((p) => [`${scopeKey(p.scope)}|${p.window.id}`, p]));
    const keys = [...keyed.keys()].sort();
    const ids = await this.db.transaction().execute(async (trx) => {
      // in one order, so two instances locking the same budgets never wait on each other in a circle
      for (const key of keys) await sql`SELECT pg_advisory_xact_lock(hashtext(${`budget:${key}`}))`.execute(trx);
      for (const key of keys) {
        const { scope, window } = keyed.get(key)!;
        const [spent, held] = await Promise.all([this.readRollup(scope, window, trx), readHolds(trx, key)]);
        this.baselines.set(key, spent);
        this.sharedHeld.set(key, held);
      }
      check();
      const rows = await trx
        .insertInto('budget_holds')
        .values(keys.map((key) => ({ holder: this.holder, budget_key: key, tokens: spend.tokens, usd: spend.usd, expires_at: sql<number>`${nowMs(trx)} + ${HOLD_MAX_MS}` })))
        .returning('id')
        .execute();
      return rows.map((r) => r.id);
    });
    let released: Promise<void> | null = null;
    // a hold that cannot be deleted (the database gone a moment) lapses with its expiry
    return () => (released ??= this.db.deleteFrom('budget_holds').where('id', 'in', ids).execute().then(() => undefined, () => undefined));
  }

  /** Holds `spend` in each (scope, period), in memory, until the returned function is called (once). */
  private hold(places: ReadonlyArray<{ scope: BudgetScope; window: PeriodWindow }>, spend: Spend): () => void {
    const keys = [...new Set(places.map((p) => `${scopeKey(p.scope)}|${p.window.id}`))];
    for (const key of keys) {
      const entry = this.held.get(key) ?? { tokens: 0, usd: 0, holds: 0 };
      this.held.set(key, { tokens: entry.tokens + spend.tokens, usd: entry.usd + spend.usd, holds: entry.holds + 1 });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const key of keys) {
        const entry = this.held.get(key);
        if (!entry) continue;
        // the last hold out clears the entry, so rounding never leaves a sliver held
        if (entry.holds <= 1) this.held.delete(key);
        else this.held.set(key, { tokens: entry.tokens - spend.tokens, usd: entry.usd - spend.usd, holds: entry.holds - 1 });
      }
    };
  }

  /** Identities with spending observed in this period (the ledger read covers the rest). */
  observedUsers(window: PeriodWindow): string[] {
    const suffix = `|${window.id}`;
    return [...this.observed.keys()].filter((k) => k.startsWith('user:') && k.endsWith(suffix)).map((k) => k.slice('user:'.length, -suffix.length));
  }

  private observe(rows: readonly NewUsageEventRow[]): void {
    for (const row of rows) {
      // chat rows carry the engine's clock; others are stamped by the database as they arrive: now
      const at = row.created_at ? new Date(row.created_at) : this.now();
      const spend = { tokens: (row.tokens_in ?? 0) + (row.tokens_out ?? 0), usd: row.cost_usd ?? 0 };
      for (const period of BUDGET_PERIODS) {
        const id = windowOf(period, at).id;
        for (const scope of scopesOf(row)) add(this.observed, `${scopeKey(scope)}|${id}`, spend);
      }
    }
  }

  /** Past periods are dropped as a new day begins: budgets only ever look at the current ones. */
  private rollOver(window: PeriodWindow): void {
    // only forward: a look at an earlier day must not drop today's totals
    if (window.period !== 'daily' || window.id <= this.currentDay) return;
    const previous = this.currentDay;
    this.currentDay = window.id;
    if (!previous) return;
    const keep = new Set([window.id, window.id.slice(0, 7)]);
    for (const map of [this.baselines, this.observed]) {
      for (const key of map.keys()) if (!keep.has(key.slice(key.lastIndexOf('|') + 1))) map.delete(key);
    }
  }

  /** The period's spend in the ledger; `beforeStart`: only rows that existed at start. */
  private async read(scope: BudgetScope, window: PeriodWindow, beforeStart: boolean): Promise<Spend> {
    if (this.shared) return this.readRollup(scope, window, this.db);
    const row = await this.db
      .selectFrom('usage_events')
      .select([sql<number>`coalesce(sum(tokens_in + tokens_out), 0)`.as('tokens'), sql<number>`coalesce(sum(cost_usd), 0)`.as('usd')])
      .where('created_at', '>=', window.start.toISOString())
      .where('created_at', '<', window.end.toISOString())
      .$if(beforeStart, (qb) => qb.where('id', '<=', this.startId))
      .$call((qb) => {
        switch (scope.kind) {
          case 'global':
            return qb;
          case 'platform':
            return qb.where('platform', '=', scope.platform);
          case 'experience':
            return qb.where('experience_id', '=', scope.experienceId);
          case 'user':
            return qb.where('platform', '=', scope.platform).where('user_id', '=', scope.userId);
        }
      })
      .executeTakeFirstOrThrow();
    return { tokens: Number(row.tokens), usd: Number(row.usd) };
  }

  /**
   * The period's spend from the usage rollups, which PostgreSQL's triggers keep with every ledger
   * row (UTC days and months, as budget periods are): one primary-key range, where summing the
   * ledger would read every event of the month on each check.
   */
  private async readRollup(scope: BudgetScope, window: PeriodWindow, db: DbExecutor): Promise<Spend> {
    const daily = window.period === 'daily';
    const table = scope.kind === 'user' ? (daily ? 'usage_user_daily' : 'usage_user_monthly') : daily ? 'usage_daily' : 'usage_monthly';
    const filters = [sql`${sql.ref(daily ? 'day' : 'month')} = ${window.id}`];
    if (scope.kind === 'platform' || scope.kind === 'user') filters.push(sql`platform = ${scope.platform}`);
    if (scope.kind === 'user') filters.push(sql`user_id = ${scope.userId}`);
    if (scope.kind === 'experience') filters.push(sql`experience_id = ${scope.experienceId}`);
    const { rows } = await sql<Spend>`SELECT coalesce(sum(tokens_in + tokens_out), 0) AS tokens, coalesce(sum(cost_usd), 0) AS usd FROM ${sql.table(table)} WHERE ${sql.join(filters, sql` AND `)}`.execute(db);
    return { tokens: Number(rows[0]?.tokens ?? 0), usd: Number(rows[0]?.usd ?? 0) };
  }
}
