import type SQLite from 'better-sqlite3';
import { queryWords, type IndexProgress, type IndexState, type KeywordFilter, type PendingMessage, type Ranked, type SearchIndex, type VectorFilter, type VectorSupport } from './search-index.js';

/**
 * The search tables, in SQLite's own dialect (FTS5, sqlite-vec): the one place that knows them.
 *
 * Vectors live in a sqlite-vec `vec0` table keyed by message id and partitioned by Experience,
 * with the conversation, platform, channel and author beside them for filtering. Each row holds
 * the vector twice: one bit per dimension (`quantized`, what the KNN scan reads: 48 bytes for 384
 * dimensions) and the exact float32 vector (`+embedding`, an auxiliary column read only for the
 * candidates). A query takes the nearest candidates by Hamming distance, then re-scores them by
 * exact cosine distance: the scan reads 32 times fewer bytes than a float scan would.
 */

const FINAL = `('complete', 'partial')`;

export type { IndexProgress, IndexState, KeywordFilter, PendingMessage, Ranked, VectorFilter } from './search-index.js';

/** Sign bits of a vector, padded to whole bytes: what `bit[N]` columns hold. */
export function quantize(vector: Float32Array): Buffer {
  const bytes = Buffer.alloc(Math.ceil(vector.length / 8));
  for (let i = 0; i < vector.length; i++) {
    if (vector[i]! > 0) bytes[i >> 3]! |= 1 << (i & 7);
  }
  return bytes;
}

export function floatBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

/** the probe scan's k: the Hamming distance of its last hit bounds the wide scan */
const PROBE_K = 10;
/** how far past the probe's distance the wide scan reaches, as a share of the dimensions */
export const RADIUS_MARGIN = 0.06;

const json = (values: readonly unknown[]): string => JSON.stringify(values);

function filterSql(filter: VectorFilter, columns: { experience: string; platform: string; channel: string; conversation: string }): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (filter.experienceIds) {
    parts.push(`${columns.experience} IN (SELECT value FROM json_each(?))`);
    params.push(json(filter.experienceIds));
  }
  if (filter.platform !== undefined) {
    parts.push(`${columns.platform} = ?`);
    params.push(filter.platform);
  }
  if (filter.channelIds) {
    parts.push(`${columns.channel} IN (SELECT value FROM json_each(?))`);
    params.push(json(filter.channelIds));
  }
  if (filter.conversationIds) {
    parts.push(`${columns.conversation} IN (SELECT value FROM json_each(?))`);
    params.push(json(filter.conversationIds));
  }
  return { sql: parts.map((p) => ` AND ${p}`).join(''), params };
}

/** Words of a query as an FTS5 expression: each quoted (no operators from users), joined by `glue`. */
export function ftsExpression(query: string, glue: 'AND' | 'OR'): string | null {
  const words = queryWords(query);
  if (!words.length) return null;
  return words.map((w) => `"${w}"`).join(` ${glue} `);
}

export class SearchStore implements SearchIndex {
  readonly kind = 'sqlite';

  constructor(readonly sqlite: SQLite.Database) {}

  /** sqlite-vec is loaded with every database (db/sqlite.ts). */
  async vectorSupport(): Promise<VectorSupport> {
    return { ok: true };
  }

  async state(): Promise<IndexState | null> {
    return this.stateNow();
  }

  private stateNow(): IndexState | null {
    const row = this.sqlite.prepare('SELECT model, dimension FROM search_index WHERE id = 1').get() as IndexState | undefined;
    return row ?? null;
  }

  hasVectorTable(): boolean {
    return this.sqlite.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'search_vectors'`).get() !== undefined;
  }

  /**
   * Starts the index afresh for a model: vectors dropped, every final message queued again.
   * The dimension is learnt from the model's first answer (`ensureVectors`).
   */
  async reset(model: string): Promise<void> {
    this.sqlite.transaction(() => {
      this.sqlite.exec('DROP TRIGGER IF EXISTS messages_search_vectors_delete; DROP TABLE IF EXISTS search_vectors;');
      this.sqlite.prepare('DELETE FROM search_index').run();
      this.sqlite.prepare('INSERT INTO search_index(id, model, dimension) VALUES (1, ?, NULL)').run(model);
      this.sqlite.prepare('UPDATE search_queue SET attempts = 0, not_before = NULL, last_error = NULL').run();
      this.sqlite.prepare(`INSERT OR IGNORE INTO search_queue(message_id) SELECT id FROM messages WHERE status IN ${FINAL} AND content <> ''`).run();
    })();
  }

  /** Makes the vector table once the dimension is known; a model whose vectors changed length is refused. */
  async ensureVectors(dimension: number): Promise<void> {
    const state = this.stateNow();
    if (!state) throw new Error('the search index has no model');
    if (state.dimension !== null && this.hasVectorTable()) {
      if (state.dimension !== dimension) {
        throw new Error(`${state.model} returned ${dimension}-dimensional vectors; the index holds ${state.dimension}`);
      }
      return;
    }
    const bits = Math.ceil(dimension / 8) * 8;
    this.sqlite.transaction(() => {
      this.sqlite.exec(`
        CREATE VIRTUAL TABLE IF NOT EXISTS search_vectors USING vec0(
          message_id integer primary key,
          experience_id integer partition key,
          quantized bit[${bits}],
          conversation_id integer,
          platform text,
          channel_id text,
          author_id text,
          +embedding blob
        );
        CREATE TRIGGER IF NOT EXISTS messages_search_vectors_delete AFTER DELETE ON messages BEGIN
          DELETE FROM search_vectors WHERE message_id = old.id;
        END;`);
      this.sqlite.prepare('UPDATE search_index SET dimension = ? WHERE id = 1').run(dimension);
    })();
  }

  /** Up to `limit` queued messages whose time has come, oldest first. */
  async due(limit: number, now: Date): Promise<PendingMessage[]> {
    return this.sqlite
      .prepare(
        `SELECT q.message_id AS messageId, m.content, c.experience_id AS experienceId, c.id AS conversationId,
                c.platform, c.channel_id AS channelId, COALESCE(m.author_id, '') AS authorId, q.attempts, q.reason
         FROM search_queue q JOIN messages m ON m.id = q.message_id JOIN conversations c ON c.id = m.conversation_id
         WHERE q.not_before IS NULL OR q.not_before <= ?
         ORDER BY q.message_id LIMIT ?`,
      )
      .all(now.toISOString(), limit) as PendingMessage[];
  }

  /** Queue entries whose message is gone or empty: nothing to embed. */
  async dropDeadEntries(): Promise<number> {
    return this.sqlite
      .prepare(`DELETE FROM search_queue WHERE message_id NOT IN (SELECT id FROM messages WHERE status IN ${FINAL} AND content <> '')`)
      .run().changes;
  }

  /**
   * Stores vectors and takes their messages off the queue in one transaction. A message whose
   * text changed while it was being embedded stays queued, to be embedded again as it is now.
   */
  async store(batch: ReadonlyArray<{ message: PendingMessage; vector: Float32Array }>): Promise<void> {
    this.storeNow(batch);
  }

  private storeNow(batch: ReadonlyArray<{ message: PendingMessage; vector: Float32Array }>): void {
    const remove = this.sqlite.prepare('DELETE FROM search_vectors WHERE message_id = ?');
    const insert = this.sqlite.prepare(
      `INSERT INTO search_vectors(message_id, experience_id, quantized, conversation_id, platform, channel_id, author_id, embedding)
       VALUES (CAST(? AS INTEGER), CAST(? AS INTEGER), vec_bit(?), CAST(? AS INTEGER), ?, ?, ?, ?)`,
    );
    const dequeue = this.sqlite.prepare('DELETE FROM search_queue WHERE message_id = ? AND (SELECT content FROM messages WHERE id = ?) = ?');
    const exists = this.sqlite.prepare('SELECT 1 FROM messages WHERE id = ?');
    this.sqlite.transaction(() => {
      for (const { message: m, vector } of batch) {
        if (!exists.get(m.messageId)) continue; // deleted while it was being embedded
        remove.run(m.messageId);
        insert.run(m.messageId, m.experienceId, quantize(vector), m.conversationId, m.platform, m.channelId, m.authorId, floatBlob(vector));
        dequeue.run(m.messageId, m.messageId, m.content);
      }
    })();
  }

  /**
   * Queued messages whose conversation changed Experience: those with a vector get it moved into
   * the new partition (sqlite-vec cannot update a partition key), with no embedding. Returns the
   * messages that have no vector yet, to be embedded.
   */
  async move(messages: readonly PendingMessage[]): Promise<PendingMessage[]> {
    if (!this.hasVectorTable()) return [...messages];
    const read = this.sqlite.prepare('SELECT embedding FROM search_vectors WHERE message_id = ?');
    const dequeue = this.sqlite.prepare(`DELETE FROM search_queue WHERE message_id = ? AND reason = 'moved'`);
    const unembedded: PendingMessage[] = [];
    const moves: Array<{ message: PendingMessage; vector: Float32Array }> = [];
    for (const message of messages) {
      const row = read.get(message.messageId) as { embedding: Buffer } | undefined;
      if (!row) {
        unembedded.push(message);
        continue;
      }
      const bytes = Uint8Array.from(row.embedding);
      moves.push({ message, vector: new Float32Array(bytes.buffer, 0, bytes.byteLength / 4) });
    }
    this.sqlite.transaction(() => {
      this.storeNow(moves);
      for (const { message } of moves) dequeue.run(message.messageId);
    })();
    return unembedded;
  }

  /** A failed batch waits `delayMs` before its next try. */
  async failed(messageIds: readonly number[], error: string, retryAt: Date): Promise<void> {
    this.sqlite
      .prepare('UPDATE search_queue SET attempts = attempts + 1, last_error = ?, not_before = ? WHERE message_id IN (SELECT value FROM json_each(?))')
      .run(error.slice(0, 500), retryAt.toISOString(), json(messageIds));
  }

  /** One process uses the file: nothing is taken from the queue beyond the pass under way. */
  async release(): Promise<void> {}

  async progress(): Promise<IndexProgress> {
    const indexed = this.hasVectorTable() ? (this.sqlite.prepare('SELECT count(*) AS n FROM search_vectors').get() as { n: number }).n : 0;
    const queue = this.sqlite
      .prepare(`SELECT count(*) AS queued, count(*) FILTER (WHERE attempts > 0) AS failing,
                (SELECT last_error FROM search_queue WHERE last_error IS NOT NULL ORDER BY not_before DESC LIMIT 1) AS lastError
                FROM search_queue`)
      .get() as { queued: number; failing: number; lastError: string | null };
    return { indexed, ...queue };
  }

  /**
   * Nearest messages to `vector`, in two scans of the bit vectors (filters applied inside both):
   * a probe for the 10th nearest Hamming distance, then up to `candidates` messages within that
   * distance plus a margin, re-scored by exact cosine distance; the best `limit` are kept.
   * sqlite-vec's scan costs rows × k, but rows beyond the distance bound never reach the
   * selection, so the wide second scan costs little more than the narrow probe.
   */
  async nearest(vector: Float32Array, filter: VectorFilter, limit: number, candidates: number): Promise<Ranked[]> {
    if (!this.hasVectorTable()) return [];
    const where = filterSql(filter, { experience: 'experience_id', platform: 'platform', channel: 'channel_id', conversation: 'conversation_id' });
    const bits = quantize(vector);
    const probe = this.sqlite
      .prepare(`SELECT distance FROM search_vectors WHERE quantized MATCH vec_bit(?) AND k = ?${where.sql}`)
      .all(bits, PROBE_K, ...where.params) as Array<{ distance: number }>;
    if (!probe.length) return [];
    const radius = probe.length < PROBE_K ? Number.MAX_SAFE_INTEGER : probe[probe.length - 1]!.distance + Math.ceil(vector.length * RADIUS_MARGIN);
    return this.sqlite
      .prepare(
        `SELECT message_id AS messageId, vec_distance_cosine(embedding, ?) AS score FROM (
           SELECT message_id, embedding FROM search_vectors WHERE quantized MATCH vec_bit(?) AND k = ? AND distance <= ?${where.sql}
         ) ORDER BY score LIMIT ?`,
      )
      .all(floatBlob(vector), bits, Math.max(candidates, limit), radius, ...where.params, limit) as Ranked[];
  }

  /**
   * Messages containing the query's words, best bm25 first: all of the words when any message
   * has them all, topped up with messages that have some of them.
   */
  async keyword(query: string, filter: KeywordFilter, limit: number): Promise<Ranked[]> {
    const where = filterSql(filter, { experience: 'c.experience_id', platform: 'c.platform', channel: 'c.channel_id', conversation: 'c.id' });
    const statement = this.sqlite.prepare(
      `SELECT m.id AS messageId, bm25(message_fts) AS score
       FROM message_fts JOIN messages m ON m.id = message_fts.rowid JOIN conversations c ON c.id = m.conversation_id
       WHERE message_fts MATCH ? AND m.status IN ${FINAL}${where.sql}
       ORDER BY score LIMIT ?`,
    );
    const results: Ranked[] = [];
    const seen = new Set<number>();
    for (const glue of ['AND', 'OR'] as const) {
      const expression = ftsExpression(query, glue);
      if (!expression || results.length >= limit) break;
      for (const row of statement.all(expression, ...where.params, limit) as Ranked[]) {
        if (seen.has(row.messageId) || results.length >= limit) continue;
        seen.add(row.messageId);
        results.push(row);
      }
    }
    return results;
  }
}
