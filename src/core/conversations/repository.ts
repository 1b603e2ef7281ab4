import { sql, type Kysely, type Transaction } from 'kysely';
import type { ConversationRow, MessageRow, NewConversationRow, NewMessageRow } from './table.js';
import type { Database } from '../db/types.js';

type Executor = Kysely<Database> | Transaction<Database>;

export interface ConversationPlace {
  platform: string;
  channelId: string;
  threadId: string | null;
}

export async function findActiveConversation(db: Executor, place: ConversationPlace): Promise<ConversationRow | undefined> {
  return db
    .selectFrom('conversations')
    .selectAll()
    .where('platform', '=', place.platform)
    .where('channel_id', '=', place.channelId)
    .where('thread_id', '=', place.threadId ?? '')
    .where('archived_at', 'is', null)
    .executeTakeFirst();
}

export async function findConversationById(db: Executor, id: number): Promise<ConversationRow | undefined> {
  return db.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function insertConversation(db: Executor, row: NewConversationRow): Promise<ConversationRow> {
  return db.insertInto('conversations').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function updateConversation(
  db: Executor,
  id: number,
  update: Partial<Pick<ConversationRow, 'active_leaf_id' | 'model_override' | 'persona_override' | 'title' | 'notices' | 'archived_at' | 'experience_id'>>,
): Promise<void> {
  await db.updateTable('conversations').set({ ...update, updated_at: new Date().toISOString() }).where('id', '=', id).execute();
}

export async function insertMessage(db: Executor, row: NewMessageRow): Promise<MessageRow> {
  return db.insertInto('messages').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findMessage(db: Executor, id: number): Promise<MessageRow | undefined> {
  return db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * The path from the root down to `leafId`, oldest first, in one recursive query.
 * With `limit`, only the newest `limit` messages of the path are walked and returned.
 */
export async function pathToLeaf(db: Executor, leafId: number, limit = -1): Promise<MessageRow[]> {
  const result = await sql<MessageRow & { depth: number }>`
    WITH RECURSIVE path(id, parent_id, depth) AS (
      SELECT id, parent_id, 0 FROM messages WHERE id = ${leafId}
      UNION ALL
      SELECT m.id, m.parent_id, path.depth + 1 FROM messages m JOIN path ON m.id = path.parent_id
      WHERE ${limit} < 0 OR path.depth + 1 < ${limit}
    )
    SELECT messages.*, path.depth FROM path JOIN messages ON messages.id = path.id ORDER BY path.depth DESC`.execute(db);
  return result.rows.map(({ depth: _depth, ...row }) => row as MessageRow);
}

/**
 * The newest messages of a path, walking up from the leaf until `limit` messages are taken or a
 * message carrying a summary checkpoint is reached (that message is included). Oldest first.
 * Cost is bounded by `limit`, not by the length of the conversation. (CASE WHEN EXISTS: 0 or 1 on
 * both databases; PostgreSQL's EXISTS is a boolean, which compares with no integer.)
 */
export async function recentPath(
  db: Executor,
  leafId: number,
  limit: number,
): Promise<{ messages: MessageRow[]; checkpointMessageId: number | null; reachedRoot: boolean }> {
  const result = await sql<MessageRow & { depth: number; checkpoint: number }>`
    WITH RECURSIVE path(id, parent_id, depth, checkpoint) AS (
      SELECT id, parent_id, 0, CASE WHEN EXISTS (SELECT 1 FROM summaries s WHERE s.message_id = messages.id) THEN 1 ELSE 0 END
      FROM messages WHERE id = ${leafId}
      UNION ALL
      SELECT m.id, m.parent_id, path.depth + 1, CASE WHEN EXISTS (SELECT 1 FROM summaries s WHERE s.message_id = m.id) THEN 1 ELSE 0 END
      FROM messages m JOIN path ON m.id = path.parent_id
      WHERE path.checkpoint = 0 AND path.depth + 1 < ${limit}
    )
    SELECT messages.*, path.depth, path.checkpoint FROM path JOIN messages ON messages.id = path.id
    ORDER BY path.depth DESC`.execute(db);
  const rows = result.rows;
  const oldest = rows[0];
  const checkpointMessageId = oldest && oldest.checkpoint ? oldest.id : null;
  return {
    messages: rows.map(({ depth: _d, checkpoint: _c, ...row }) => row as MessageRow),
    checkpointMessageId,
    reachedRoot: oldest ? oldest.parent_id === null : true,
  };
}

/** Children of a node (or the roots of a conversation when parentId is null), oldest first. */
export async function childrenOf(db: Executor, conversationId: number, parentId: number | null): Promise<MessageRow[]> {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('conversation_id', '=', conversationId)
    .$call((qb) => (parentId === null ? qb.where('parent_id', 'is', null) : qb.where('parent_id', '=', parentId)))
    .orderBy('id')
    .execute();
}

/** The most recently created leaf in the subtree under (and including) `nodeId`. */
export async function newestLeafUnder(db: Executor, nodeId: number): Promise<number> {
  const row = await sql<{ id: number }>`
    WITH RECURSIVE sub(id) AS (
      SELECT CAST(${nodeId} AS integer)
      UNION ALL
      SELECT m.id FROM messages m JOIN sub ON m.parent_id = sub.id
    )
    SELECT sub.id FROM sub
    WHERE NOT EXISTS (SELECT 1 FROM messages c WHERE c.parent_id = sub.id)
    ORDER BY sub.id DESC LIMIT 1`.execute(db);
  return row.rows[0]?.id ?? nodeId;
}

/** Whether `ancestorId` lies on the path from the root to `nodeId` (inclusive). */
export async function isOnPath(db: Executor, ancestorId: number, nodeId: number): Promise<boolean> {
  const row = await sql<{ found: number }>`
    WITH RECURSIVE path(id, parent_id) AS (
      SELECT id, parent_id FROM messages WHERE id = ${nodeId}
      UNION ALL
      SELECT m.id, m.parent_id FROM messages m JOIN path ON m.id = path.parent_id
      WHERE path.id <> ${ancestorId}
    )
    SELECT CASE WHEN EXISTS (SELECT 1 FROM path WHERE id = ${ancestorId}) THEN 1 ELSE 0 END AS found`.execute(db);
  return row.rows[0]?.found === 1;
}

/** Ids of `nodeId` and everything under it. */
export async function subtreeIds(db: Executor, nodeId: number): Promise<number[]> {
  const rows = await sql<{ id: number }>`
    WITH RECURSIVE sub(id) AS (
      SELECT CAST(${nodeId} AS integer)
      UNION ALL
      SELECT m.id FROM messages m JOIN sub ON m.parent_id = sub.id
    )
    SELECT id FROM sub`.execute(db);
  return rows.rows.map((r) => r.id);
}

/**
 * Deletes messages without leaning on ON DELETE CASCADE down the parent chain: SQLite runs
 * cascades like triggers and refuses chains deeper than 1000 ("too many levels of trigger
 * recursion"). Detaching them from their parents first makes each delete a flat one.
 */
export async function deleteMessages(db: Executor, where: { ids: number[] } | { conversationId: number }): Promise<void> {
  if ('ids' in where) {
    const chunks: number[][] = [];
    for (let i = 0; i < where.ids.length; i += 500) chunks.push(where.ids.slice(i, i + 500));
    for (const chunk of chunks) await db.updateTable('messages').set({ parent_id: null }).where('id', 'in', chunk).execute();
    for (const chunk of chunks) await db.deleteFrom('messages').where('id', 'in', chunk).execute();
    return;
  }
  await db.updateTable('messages').set({ parent_id: null }).where('conversation_id', '=', where.conversationId).execute();
  await db.deleteFrom('messages').where('conversation_id', '=', where.conversationId).execute();
}
