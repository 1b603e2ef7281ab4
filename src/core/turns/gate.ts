import type { Db } from '../db/open.js';
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
