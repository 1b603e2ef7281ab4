import { sql } from 'kysely';
import { isPostgres } from '../db/dialect.js';
import type { Db } from '../db/open.js';
import { RateLimitError } from '../errors.js';

/** Turns per user per minute: `take` records one, or throws RateLimitError saying when to retry. */
export interface TurnRateLimiter {
  take(userKey: string): Promise<void>;
}

const WINDOW_MS = 60_000;

function tooFast(userKey: string, perMinute: number, retryAfterMs: number): RateLimitError {
  const seconds = Math.ceil(retryAfterMs / 1000);
  return new RateLimitError(
    `user ${userKey} over ${perMinute} turns per minute`,
    retryAfterMs,
    `You're sending messages faster than ${perMinute} per minute. Try again in ${seconds} s.`,
  );
}

/**
 * The limiter for this database: on SQLite one process serves it (the data dir lock sees to
 * that), so the windows live in memory and cost nothing; on PostgreSQL several instances may
 * serve the same users, so the database keeps the windows and each user's limit holds across them.
 */
export function turnRateLimiter(db: Db, perMinute: number, now: () => number = Date.now): TurnRateLimiter {
  return isPostgres(db) ? new SharedRateLimiter(db, perMinute, now) : new UserRateLimiter(perMinute, now);
}

/**
 * Turns per user per minute, as a sliding window. (Bottleneck queues work; here a user over the
 * limit must be refused at once and told when to try again, which a window answers exactly.)
 */
export class UserRateLimiter implements TurnRateLimiter {
  private readonly turns = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a turn, or throws RateLimitError saying when the next one is allowed. */
  async take(userKey: string): Promise<void> {
    const now = this.now();
    const recent = (this.turns.get(userKey) ?? []).filter((t) => now - t < WINDOW_MS);
    if (recent.length >= this.perMinute) {
      const retryAfterMs = WINDOW_MS - (now - recent[0]!);
      this.turns.set(userKey, recent);
      throw tooFast(userKey, this.perMinute, retryAfterMs);
    }
    recent.push(now);
    this.turns.set(userKey, recent);
    if (this.turns.size > 10_000) this.sweep(now);
  }

  private sweep(now: number): void {
    for (const [key, times] of this.turns) if (times.every((t) => now - t >= WINDOW_MS)) this.turns.delete(key);
  }
}

/**
 * The same sliding window kept in the database, for instances sharing it. One user's turns are
 * counted under a transaction-scoped advisory lock, so two instances taking at once see each
 * other's turn: the limit is exact, not one per instance.
 */
export class SharedRateLimiter implements TurnRateLimiter {
  private takes = 0;

  constructor(
    private readonly db: Db,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  async take(userKey: string): Promise<void> {
    const now = this.now();
    await this.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext(${`turn-rate:${userKey}`}))`.execute(trx);
      await trx.deleteFrom('turn_rate_events').where('user_key', '=', userKey).where('at', '<=', now - WINDOW_MS).execute();
      const window = await trx
        .selectFrom('turn_rate_events')
        .select((eb) => [eb.fn.countAll<number>().as('turns'), eb.fn.min('at').as('oldest')])
        .where('user_key', '=', userKey)
        .executeTakeFirstOrThrow();
      if (Number(window.turns) >= this.perMinute) throw tooFast(userKey, this.perMinute, WINDOW_MS - (now - Number(window.oldest)));
      await trx.insertInto('turn_rate_events').values({ user_key: userKey, at: now }).execute();
    });
    // the windows of users who went quiet are cleared now and then
    if (++this.takes % 500 === 0) await this.db.deleteFrom('turn_rate_events').where('at', '<=', now - WINDOW_MS).execute();
  }
}
