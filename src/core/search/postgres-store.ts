import { randomUUID } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db/open.js';
import { CLAIM_MS, setNearestScan, vectorLiteral } from './pgvector.js';
import { PostgresVectorTable } from './postgres-vectors.js';
import { keywordScore, textQuery } from './postgres-text.js';
import {
  queryWords, type IndexProgress, type IndexState, type KeywordFilter, type PendingMessage, type Ranked, type SearchIndex, type VectorFilter, type VectorSupport,
} from './search-index.js';

/**
 * The search index on PostgreSQL: keywords through `message_words`, the final messages' English
 * tsvectors with their conversation (GIN-indexed; migration 1100's triggers keep a row for each
 * final message and none for others, as FTS5 keeps message_fts), vectors in `search_vectors` with pgvector (made once the
 * model's dimension is known, as on SQLite), the queue fed by migration 1100's triggers. Several
 * instances may index at once: each claims queued rows with FOR UPDATE SKIP LOCKED.
 *
 * Vectors are exact float vectors under an HNSW index over cosine distance, with the conversation,
 * platform, channel and author beside them, so filters are applied inside the scan, as on SQLite.
 */

const FINAL = sql.raw(`('complete', 'partial')`);
const VECTORS = 'search_vectors';

function filterSql(filter: VectorFilter, columns: { experience: string; platform: string; channel: string; conversation: string }): RawBuilder<unknown> {
  const parts: RawBuilder<unknown>[] = [];
  if (filter.experienceIds) parts.push(sql`${sql.raw(columns.experience)} = ANY(${[...filter.experienceIds]}::integer[])`);
  if (filter.platform !== undefined) parts.push(sql`${sql.raw(columns.platform)} = ${filter.platform}`);
  if (filter.channelIds) parts.push(sql`${sql.raw(columns.channel)} = ANY(${[...filter.channelIds]}::text[])`);
  if (filter.conversationIds) parts.push(sql`${sql.raw(columns.conversation)} = ANY(${[...filter.conversationIds]}::integer[])`);
  return parts.length ? sql` AND ${sql.join(parts, sql` AND `)}` : sql``;
}

export class PostgresSearchStore implements SearchIndex {
  readonly kind = 'postgres';
  /** this instance's name on the queue rows it claims */
  private readonly claimer = randomUUID();
  /** whether this instance has taken queue rows since it last gave them back */
  private claiming = false;
  private readonly vectors: PostgresVectorTable;

  constructor(private readonly db: Db) {
    this.vectors = new PostgresVectorTable(db, {
      table: VECTORS, stateTable: 'search_index', what: 'search',
      columns: `message_id integer PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE, experience_id integer NOT NULL,
        conversation_id integer NOT NULL, platform text NOT NULL, channel_id text NOT NULL, author_id text NOT NULL`,
    });
  }

  vectorSupport(): Promise<VectorSupport> {
    return this.vectors.vectorSupport();
  }

  state(): Promise<IndexState | null> {
    return this.vectors.state();
  }

  async reset(model: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await this.vectors.restart(trx, model);
      await sql`UPDATE search_queue SET attempts = 0, not_before = NULL, last_error = NULL`.execute(trx);
      await sql`INSERT INTO search_queue(message_id) SELECT id FROM messages WHERE status IN ${FINAL} AND content <> '' ON CONFLICT (message_id) DO NOTHING`.execute(trx);
    });
  }

  ensureVectors(dimension: number): Promise<void> {
    return this.vectors.ensure(dimension);
  }

  /** Claims up to `limit` due rows for this instance; rows another instance holds are skipped, not waited for. */
  async due(limit: number, now: Date): Promise<PendingMessage[]> {
    const at = now.toISOString();
    const until = new Date(now.getTime() + CLAIM_MS).toISOString();
    this.claiming = true;
    const rows = await sql<PendingMessage>`
      WITH taken AS (
        UPDATE search_queue q SET claimed_by = ${this.claimer}, claimed_until = ${until}
        WHERE q.message_id IN (
          SELECT message_id FROM search_queue
          WHERE (not_before IS NULL OR not_before <= ${at}) AND (claimed_until IS NULL OR claimed_until <= ${at})
          ORDER BY message_id LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)
        RETURNING q.message_id, q.attempts, q.reason)
      SELECT t.message_id AS "messageId", m.content, c.experience_id AS "experienceId", c.id AS "conversationId",
             c.platform, c.channel_id AS "channelId", COALESCE(m.author_id, '') AS "authorId", t.attempts, t.reason
      FROM taken t JOIN messages m ON m.id = t.message_id JOIN conversations c ON c.id = m.conversation_id
      ORDER BY t.message_id`.execute(this.db);
    return rows.rows;
  }

  async dropDeadEntries(): Promise<number> {
    const result = await sql`DELETE FROM search_queue WHERE message_id NOT IN (SELECT id FROM messages WHERE status IN ${FINAL} AND content <> '')`.execute(this.db);
    return Number(result.numAffectedRows ?? 0);
  }

  async store(batch: ReadonlyArray<{ message: PendingMessage; vector: Float32Array }>): Promise<void> {
    if (!batch.length) return;
    const ids = batch.map((b) => b.message.messageId);
    await this.db.transaction().execute(async (trx) => {
      // a message deleted while it was being embedded is not stored
      await sql`
        INSERT INTO search_vectors(message_id, experience_id, conversation_id, platform, channel_id, author_id, embedding)
        SELECT t.id, t.experience_id, t.conversation_id, t.platform, t.channel_id, t.author_id, t.embedding::vector
        FROM unnest(${ids}::integer[], ${batch.map((b) => b.message.experienceId)}::integer[], ${batch.map((b) => b.message.conversationId)}::integer[],
                    ${batch.map((b) => b.message.platform)}::text[], ${batch.map((b) => b.message.channelId)}::text[],
                    ${batch.map((b) => b.message.authorId)}::text[], ${batch.map((b) => vectorLiteral(b.vector))}::text[])
          AS t(id, experience_id, conversation_id, platform, channel_id, author_id, embedding)
        WHERE EXISTS (SELECT 1 FROM messages m WHERE m.id = t.id)
        ON CONFLICT (message_id) DO UPDATE SET experience_id = EXCLUDED.experience_id, conversation_id = EXCLUDED.conversation_id,
          platform = EXCLUDED.platform, channel_id = EXCLUDED.channel_id, author_id = EXCLUDED.author_id, embedding = EXCLUDED.embedding`.execute(trx);
      // a message whose text changed meanwhile stays queued, to be embedded as it is now
      await sql`
        DELETE FROM search_queue q USING unnest(${ids}::integer[], ${batch.map((b) => b.message.content)}::text[]) AS t(id, content), messages m
        WHERE q.message_id = t.id AND m.id = t.id AND m.content = t.content`.execute(trx);
      await this.unclaim(trx, ids);
    });
  }

  /** The vectors of messages whose conversation moved follow it (no embedding); those without one are returned. */
  async move(messages: readonly PendingMessage[]): Promise<PendingMessage[]> {
    if (!messages.length || !(await this.vectors.exists())) return [...messages];
    const ids = messages.map((m) => m.messageId);
    const moved = await this.db.transaction().execute(async (trx) => {
      const rows = await sql<{ messageId: number }>`
        UPDATE search_vectors v SET experience_id = c.experience_id, conversation_id = c.id, platform = c.platform, channel_id = c.channel_id
        FROM messages m JOIN conversations c ON c.id = m.conversation_id
        WHERE v.message_id = ANY(${ids}::integer[]) AND m.id = v.message_id
        RETURNING v.message_id AS "messageId"`.execute(trx);
      const done = rows.rows.map((r) => r.messageId);
      await sql`DELETE FROM search_queue WHERE message_id = ANY(${done}::integer[]) AND reason = 'moved'`.execute(trx);
      await this.unclaim(trx, done);
      return new Set(done);
    });
    return messages.filter((m) => !moved.has(m.messageId));
  }

  async failed(messageIds: readonly number[], error: string, retryAt: Date): Promise<void> {
    await sql`
      UPDATE search_queue SET attempts = attempts + 1, last_error = ${error.slice(0, 500)}, not_before = ${retryAt.toISOString()},
        claimed_by = NULL, claimed_until = NULL
      WHERE message_id = ANY(${[...messageIds]}::integer[])`.execute(this.db);
  }

  async release(): Promise<void> {
    if (!this.claiming) return;
    await sql`UPDATE search_queue SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ${this.claimer}`.execute(this.db);
    this.claiming = false;
  }

  async progress(): Promise<IndexProgress> {
    const indexed = (await this.vectors.exists())
      ? (await sql<{ n: number }>`SELECT count(*) AS n FROM search_vectors`.execute(this.db)).rows[0]!.n
      : 0;
    const queue = await sql<{ queued: number; failing: number; lastError: string | null }>`
      SELECT count(*) AS queued, count(*) FILTER (WHERE attempts > 0) AS failing,
        (SELECT last_error FROM search_queue WHERE last_error IS NOT NULL ORDER BY not_before DESC LIMIT 1) AS "lastError"
      FROM search_queue`.execute(this.db);
    return { indexed, ...queue.rows[0]! };
  }

  async nearest(vector: Float32Array, filter: VectorFilter, limit: number, candidates: number): Promise<Ranked[]> {
    if (!(await this.vectors.exists())) return [];
    const where = filterSql(filter, { experience: 'experience_id', platform: 'platform', channel: 'channel_id', conversation: 'conversation_id' });
    const query = vectorLiteral(vector);
    return this.db.transaction().execute(async (trx) => {
      await setNearestScan(trx, Math.max(candidates, limit));
      const rows = await sql<Ranked>`
        SELECT message_id AS "messageId", embedding <=> ${query}::vector AS score FROM search_vectors
        WHERE true${where} ORDER BY embedding <=> ${query}::vector LIMIT ${limit}`.execute(trx);
      return rows.rows;
    });
  }

  async keyword(query: string, filter: KeywordFilter, limit: number): Promise<Ranked[]> {
    const words = queryWords(query);
    if (!words.length) return [];
    const where = filterSql(filter, { experience: 'c.experience_id', platform: 'c.platform', channel: 'c.channel_id', conversation: 'c.id' });
    const results: Ranked[] = [];
    const seen = new Set<number>();
    for (const glue of words.length > 1 ? (['AND', 'OR'] as const) : (['AND'] as const)) {
      if (results.length >= limit) break;
      const tsquery = textQuery(words, glue);
      const rows = await sql<Ranked>`
        SELECT w.message_id AS "messageId", ${keywordScore('w.words', tsquery)} AS score
        FROM message_words w JOIN conversations c ON c.id = w.conversation_id
        WHERE w.words @@ ${tsquery}${where}
        ORDER BY score, w.message_id LIMIT ${limit}`.execute(this.db);
      for (const row of rows.rows) {
        if (seen.has(row.messageId) || results.length >= limit) continue;
        seen.add(row.messageId);
        results.push(row);
      }
    }
    return results;
  }

  private async unclaim(trx: Db, ids: readonly number[]): Promise<void> {
    await sql`UPDATE search_queue SET claimed_by = NULL, claimed_until = NULL WHERE message_id = ANY(${[...ids]}::integer[]) AND claimed_by = ${this.claimer}`.execute(trx);
  }
}
