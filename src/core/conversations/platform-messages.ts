import type { Db } from '../db/open.js';
import type { MessageRow } from './table.js';

/**
 * Which platform messages show which tree node: a long answer split over several posts maps each
 * part. The only place that reads or writes `platform_messages`.
 */

/** Maps platform message ids (in order, one per part) to a node; a re-shown message moves to the new node. */
export async function mapPlatformMessages(db: Db, platform: string, platformIds: readonly string[], messageId: number, conversationId: number): Promise<void> {
  if (!platformIds.length) return;
  await db
    .insertInto('platform_messages')
    .values(platformIds.map((id, part) => ({ platform, platform_message_id: id, message_id: messageId, conversation_id: conversationId, part })))
    .onConflict((oc) => oc.columns(['platform', 'platform_message_id']).doUpdateSet((eb) => ({ message_id: eb.ref('excluded.message_id'), part: eb.ref('excluded.part') })))
    .execute();
}

/** The tree node a platform message shows, if the bot knows it. */
export async function nodeForPlatformMessage(db: Db, platform: string, platformMessageId: string): Promise<MessageRow | undefined> {
  return db
    .selectFrom('platform_messages')
    .innerJoin('messages', 'messages.id', 'platform_messages.message_id')
    .selectAll('messages')
    .where('platform_messages.platform', '=', platform)
    .where('platform_messages.platform_message_id', '=', platformMessageId)
    .executeTakeFirst();
}

/** The first platform message (part 0 of a split answer) showing each node, for links to it. */
export async function firstPlatformMessageIds(db: Db, messageIds: readonly number[]): Promise<Map<number, string>> {
  if (!messageIds.length) return new Map();
  const rows = await db
    .selectFrom('platform_messages')
    .select(['message_id', 'platform_message_id', 'part'])
    .where('message_id', 'in', [...messageIds])
    .orderBy('message_id')
    .orderBy('part')
    .execute();
  const first = new Map<number, string>();
  for (const row of rows) if (!first.has(row.message_id)) first.set(row.message_id, row.platform_message_id);
  return first;
}
