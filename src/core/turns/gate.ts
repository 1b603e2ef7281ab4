import type { Db } from '../db/open.js';
import { RateLimitError } from '../errors.js';
import type { Inbound } from '../inbound.js';

/**
 * Exactly-once: the first handler to record an event id wins; a redelivery after a reconnect
 * or a platform retry finds it recorded and is dropped.
 */
export async function claimEvent(db: Db, inbound: Inbound): Promise<boolean> {
  const result = await db
    .insertInto('processed_events')
    .values({ platform: inbound.platform, event_id: inbound.eventId })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Gives an event back, unanswered: after a restart, a platform's catch-up may deliver it again. */
export async function releaseEvent(db: Db, inbound: Inbound): Promise<void> {
  await db.deleteFrom('processed_events').where('platform', '=', inbound.platform).where('event_id', '=', inbound.eventId).execute();
}

export async function pruneProcessedEvents(db: Db, olderThan: Date): Promise<void> {
  await db.deleteFrom('processed_events').where('processed_at', '<', olderThan.toISOString()).execute();
}

/**
 * Turns per user per minute, as a sliding window. (Bottleneck queues work; here a user over the
 * limit must be refused at once and told when to try again, which a window answers exactly.)
 */
export class UserRateLimiter {
  private readonly turns = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a turn, or throws RateLimitError saying when the next one is allowed. */
  take(userKey: string): void {
    const now = this.now();
    const recent = (this.turns.get(userKey) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= this.perMinute) {
      const retryAfterMs = 60_000 - (now - recent[0]!);
      const seconds = Math.ceil(retryAfterMs / 1000);
      this.turns.set(userKey, recent);
      throw new RateLimitError(
        `user ${userKey} over ${this.perMinute} turns per minute`,
        retryAfterMs,
        `You're sending messages faster than ${this.perMinute} per minute. Try again in ${seconds} s.`,
      );
    }
    recent.push(now);
    this.turns.set(userKey, recent);
    if (this.turns.size > 10_000) this.sweep(now);
  }

  private sweep(now: number): void {
    for (const [key, times] of this.turns) if (times.every((t) => now - t >= 60_000)) this.turns.delete(key);
  }
}
