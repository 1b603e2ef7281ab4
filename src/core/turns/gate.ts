import { isPostgres, nowMs } from '../db/dialect.js';
import type { Db } from '../db/open.js';
import type { Inbound } from '../inbound.js';
import { instanceLease } from '../instances/interrupted.js';

/** `claimed_by` of a claim given back by the instance that took its platform over. */
export const RELEASED = '!released';

/**
 * How an event was claimed: `first` by nobody before; `again` after its claimant died before it
 * was handled (a question may be stored already, its answer cut off); `no` when it is handled or
 * being handled: a redelivery after a reconnect or a platform retry is dropped.
 */
export type Claim = 'first' | 'again' | 'no';

/**
 * Exactly-once: the first handler to record an event id wins. With several instances the claim
 * carries the claimant's name until `finishEvent`, and a claim given back (RELEASED) is taken again.
 */
export async function claimEvent(db: Db, inbound: Inbound, claimant: string | null = null): Promise<Claim> {
  const result = await db
    .insertInto('processed_events')
    .values({ platform: inbound.platform, event_id: inbound.eventId, claimed_by: claimant })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  if (Number(result.numInsertedOrUpdatedRows ?? 0) > 0) return 'first';
  if (claimant === null) return 'no';
  const retaken = await db
    .updateTable('processed_events')
    .set({ claimed_by: claimant })
    .where('platform', '=', inbound.platform)
    .where('event_id', '=', inbound.eventId)
    .where('claimed_by', '=', RELEASED)
    .executeTakeFirst();
  return Number(retaken.numUpdatedRows) > 0 ? 'again' : 'no';
}

/** Handled (answered, or failed with a message to the user): no instance takes it again. */
export async function finishEvent(db: Db, inbound: Inbound): Promise<void> {
  await db.updateTable('processed_events').set({ claimed_by: null }).where('platform', '=', inbound.platform).where('event_id', '=', inbound.eventId).execute();
}

/** Gives an event back, unanswered: after a restart, a platform's catch-up may deliver it again. */
export async function releaseEvent(db: Db, inbound: Inbound): Promise<void> {
  await db.deleteFrom('processed_events').where('platform', '=', inbound.platform).where('event_id', '=', inbound.eventId).execute();
}

/**
 * When this instance takes `platform` over (PostgreSQL): the events of it that instances no longer
 * alive claimed and never finished are given back, so the catch-up that follows handles them
 * again. A claimant whose instance lease still runs is waited for, a renewal at most (it renews
 * every third of its lease): it either lapses (dead: given back) or is renewed (alive: kept).
 */
export async function releaseOrphanedClaims(db: Db, platform: string, claimant: string, options: { pollMs?: number } = {}): Promise<number> {
  if (!isPostgres(db)) return 0;
  const claimants = (
    await db.selectFrom('processed_events').select('claimed_by').distinct().where('platform', '=', platform).where('claimed_by', 'is not', null).where('claimed_by', '!=', claimant).where('claimed_by', '!=', RELEASED).execute()
  ).map((r) => r.claimed_by!);
  let released = 0;
  for (const other of claimants) {
    if (!(await gone(db, other, options.pollMs ?? 250))) continue;
    const result = await db.updateTable('processed_events').set({ claimed_by: RELEASED }).where('platform', '=', platform).where('claimed_by', '=', other).executeTakeFirst();
    released += Number(result.numUpdatedRows);
  }
  return released;
}

/** Whether `instance` stopped renewing its lease: now, or before its next renewal would be due. */
async function gone(db: Db, instance: string, pollMs: number): Promise<boolean> {
  const expiry = async (): Promise<number | null> => {
    const row = await db.selectFrom('leases').select('expires_at').where('name', '=', instanceLease(instance)).where('expires_at', '>', nowMs(db)).executeTakeFirst();
    return row ? Number(row.expires_at) : null;
  };
  const first = await expiry();
  if (first === null) return true;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    const now = await expiry();
    if (now === null) return true;
    if (now > first) return false;
  }
}

export async function pruneProcessedEvents(db: Db, olderThan: Date): Promise<void> {
  await db.deleteFrom('processed_events').where('processed_at', '<', olderThan.toISOString()).execute();
}
