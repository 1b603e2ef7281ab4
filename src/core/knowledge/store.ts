import type SQLite from 'better-sqlite3';
import { floatBlob, ftsExpression } from '../search/store.js';
import type { KnowledgeIndex, KnowledgeIndexState, KnowledgeProgress, PendingChunk, RankedChunk, VectorSupport } from './knowledge-index.js';

/**
 * The knowledge index in SQLite's own dialect (FTS5, sqlite-vec): the one place that knows it.
 *
 * Vectors live in a `vec0` table keyed by chunk id and partitioned by Experience, so a query
 * scans only its own Experience's vectors; cosine distance on the float vectors (documents are
 * far fewer rows than messages: no bit-vector probe needed). The queue (`knowledge_queue`) is
 * the truth of what is left to embed: a vector is stored in the transaction that dequeues it.
 */

export type { KnowledgeIndexState, KnowledgeProgress, PendingChunk, RankedChunk } from './knowledge-index.js';

/** Words too common to say what a question is about: a chunk matching only these is no match. */
const STOPWORDS = new Set(
  ('a an and are as at be by can could do does did for from has have how i if in into is it its me my no not of on or our should so ' +
    'than that the their them then there these this to us was we what when where which who why will with would you your about any ' +
    'tell please explain know need want get got some much many also just like here been were they am too very say').split(' '),
);

/** The words of a question that carry its subject: lower case, no stopwords, no duplicates. */
export function contentWords(query: string): string[] {
  const words = (query.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []).filter((w) => !STOPWORDS.has(w) && (w.length > 1 || /\d/.test(w)));
  return [...new Set(words)];
}

/**
 * A word in more chunks than this is left out of the wider keyword net (it still counts towards
 * a chunk's share of the question's words): ranking its chunks would cost more than it tells.
 */
export const COMMON_WORD_CHUNKS = 2_000;

/** How many of every Experience's best chunks are ranked, per chunk asked for, before an Experience's own are sought. */
const RANKED_ACROSS_EXPERIENCES = 4;

const json = (values: readonly unknown[]): string => JSON.stringify(values);

export class KnowledgeStore implements KnowledgeIndex {
  readonly kind = 'sqlite';

  /** the retrieval queries, prepared once: they run on every turn of an Experience with documents */
  private readonly statements = new Map<string, SQLite.Statement>();

  constructor(readonly sqlite: SQLite.Database) {}

  /** sqlite-vec is loaded with every database (db/sqlite.ts). */
  async vectorSupport(): Promise<VectorSupport> {
    return { ok: true };
  }

  async state(): Promise<KnowledgeIndexState | null> {
    return this.stateNow();
  }

  private stateNow(): KnowledgeIndexState | null {
    return (this.sqlite.prepare('SELECT model, dimension FROM knowledge_index WHERE id = 1').get() as KnowledgeIndexState | undefined) ?? null;
  }

  hasVectorTable(): boolean {
    return this.sqlite.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'knowledge_vec'`).get() !== undefined;
  }

  /** Starts the vectors afresh for a model: all dropped, every chunk queued again. */
  async reset(model: string): Promise<void> {
    this.sqlite.transaction(() => {
      this.sqlite.exec('DROP TRIGGER IF EXISTS knowledge_chunks_vectors_delete; DROP TABLE IF EXISTS knowledge_vec;');
      this.sqlite.prepare('DELETE FROM knowledge_index').run();
      this.sqlite.prepare('INSERT INTO knowledge_index(id, model, dimension) VALUES (1, ?, NULL)').run(model);
      this.sqlite.prepare('UPDATE knowledge_queue SET attempts = 0, not_before = NULL, last_error = NULL').run();
      this.sqlite.prepare('INSERT OR IGNORE INTO knowledge_queue(chunk_id) SELECT id FROM knowledge_chunks').run();
    })();
  }

  /** Makes the vector table once the dimension is known; vectors of another length are refused. */
  async ensureVectors(dimension: number): Promise<void> {
    const state = this.stateNow();
    if (!state) throw new Error('the knowledge index has no model');
    if (state.dimension !== null && this.hasVectorTable()) {
      if (state.dimension !== dimension) throw new Error(`${state.model} returned ${dimension}-dimensional vectors; the index holds ${state.dimension}`);
      return;
    }
    this.sqlite.transaction(() => {
      this.sqlite.exec(`
        CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_vec USING vec0(
          chunk_id integer primary key,
          experience_id integer partition key,
          embedding float[${dimension}] distance_metric=cosine,
          document_id integer
        );
        CREATE TRIGGER IF NOT EXISTS knowledge_chunks_vectors_delete AFTER DELETE ON knowledge_chunks BEGIN
          DELETE FROM knowledge_vec WHERE chunk_id = old.id;
        END;`);
      this.sqlite.prepare('UPDATE knowledge_index SET dimension = ? WHERE id = 1').run(dimension);
    })();
  }

  /** Up to `limit` queued chunks whose time has come, oldest first. */
  async due(limit: number, now: Date): Promise<PendingChunk[]> {
    return this.sqlite
      .prepare(
        `SELECT q.chunk_id AS chunkId, c.text, c.document_id AS documentId, d.experience_id AS experienceId, q.attempts
         FROM knowledge_queue q JOIN knowledge_chunks c ON c.id = q.chunk_id JOIN knowledge_documents d ON d.id = c.document_id
         WHERE q.not_before IS NULL OR q.not_before <= ?
         ORDER BY q.chunk_id LIMIT ?`,
      )
      .all(now.toISOString(), limit) as PendingChunk[];
  }

  /**
   * Stores vectors and dequeues their chunks in one transaction; a chunk deleted or changed
   * while it was embedded is skipped (or stays queued). Documents with nothing left to embed
   * become indexed.
   */
  async store(batch: ReadonlyArray<{ chunk: PendingChunk; vector: Float32Array }>, now: Date): Promise<void> {
    const exists = this.sqlite.prepare('SELECT 1 FROM knowledge_chunks WHERE id = ? AND text = ?');
    const remove = this.sqlite.prepare('DELETE FROM knowledge_vec WHERE chunk_id = ?');
    const insert = this.sqlite.prepare(
      'INSERT INTO knowledge_vec(chunk_id, experience_id, embedding, document_id) VALUES (CAST(? AS INTEGER), CAST(? AS INTEGER), ?, CAST(? AS INTEGER))',
    );
    const dequeue = this.sqlite.prepare('DELETE FROM knowledge_queue WHERE chunk_id = ?');
    const finish = this.sqlite.prepare(
      `UPDATE knowledge_documents SET status = 'indexed', indexed_at = ?, error = NULL
       WHERE id = ? AND status = 'indexing'
         AND NOT EXISTS (SELECT 1 FROM knowledge_queue q JOIN knowledge_chunks c ON c.id = q.chunk_id WHERE c.document_id = knowledge_documents.id)`,
    );
    this.sqlite.transaction(() => {
      const documents = new Set<number>();
      for (const { chunk, vector } of batch) {
        if (!exists.get(chunk.chunkId, chunk.text)) continue;
        remove.run(chunk.chunkId);
        insert.run(chunk.chunkId, chunk.experienceId, floatBlob(vector), chunk.documentId);
        dequeue.run(chunk.chunkId);
        documents.add(chunk.documentId);
      }
      for (const id of documents) finish.run(now.toISOString(), id);
    })();
  }

  /** A failed batch waits until `retryAt`; its documents carry the reason meanwhile. */
  async failed(chunkIds: readonly number[], error: string, retryAt: Date): Promise<void> {
    this.sqlite.transaction(() => {
      this.sqlite
        .prepare('UPDATE knowledge_queue SET attempts = attempts + 1, last_error = ?, not_before = ? WHERE chunk_id IN (SELECT value FROM json_each(?))')
        .run(error.slice(0, 500), retryAt.toISOString(), json(chunkIds));
      this.sqlite
        .prepare(`UPDATE knowledge_documents SET error = ? WHERE status = 'indexing' AND id IN (SELECT document_id FROM knowledge_chunks WHERE id IN (SELECT value FROM json_each(?)))`)
        .run(`embedding failed, will retry: ${error.slice(0, 300)}`, json(chunkIds));
    })();
  }

  /** One process uses the file: nothing is taken from the queue beyond the pass under way. */
  async release(): Promise<void> {}

  /** Whether the Experience has anything to search: checked before a question is embedded. */
  async hasChunks(experienceId: number): Promise<boolean> {
    return this.sqlite
      .prepare('SELECT 1 FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id WHERE d.experience_id = ? LIMIT 1')
      .get(experienceId) !== undefined;
  }

  /** Progress of one Experience, or of all. */
  async progress(experienceId?: number): Promise<KnowledgeProgress> {
    const scope = experienceId === undefined ? '' : ' AND d.experience_id = ?';
    const params = experienceId === undefined ? [] : [experienceId];
    const documents = { queued: 0, indexing: 0, indexed: 0, failed: 0 };
    const statuses = this.sqlite
      .prepare(`SELECT d.status, count(*) AS n FROM knowledge_documents d WHERE 1 = 1${scope} GROUP BY d.status`)
      .all(...params) as Array<{ status: keyof typeof documents; n: number }>;
    for (const row of statuses) documents[row.status] = row.n;
    const chunks = (this.sqlite.prepare(`SELECT count(*) AS n FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id WHERE 1 = 1${scope}`).get(...params) as { n: number }).n;
    const embedded = this.hasVectorTable()
      ? (this.sqlite.prepare(`SELECT count(*) AS n FROM knowledge_vec v WHERE 1 = 1${experienceId === undefined ? '' : ' AND v.experience_id = ?'}`).get(...params) as { n: number }).n
      : 0;
    const queue = this.sqlite
      .prepare(
        `SELECT count(*) AS waiting, count(*) FILTER (WHERE q.attempts > 0) AS failing,
                (SELECT q2.last_error FROM knowledge_queue q2 JOIN knowledge_chunks c2 ON c2.id = q2.chunk_id JOIN knowledge_documents d ON d.id = c2.document_id
                 WHERE q2.last_error IS NOT NULL${scope} ORDER BY q2.not_before DESC LIMIT 1) AS lastError
         FROM knowledge_queue q JOIN knowledge_chunks c ON c.id = q.chunk_id JOIN knowledge_documents d ON d.id = c.document_id WHERE 1 = 1${scope}`,
      )
      .get(...params, ...params) as { waiting: number; failing: number; lastError: string | null };
    return { documents, chunks, embedded, ...queue };
  }

  /**
   * Chunks of one Experience that hold the question's words, best first: those with all of its
   * content words, then those with at least half of them. A chunk that shares only a common
   * word ("the", "how") or one word of a longer question is not a match.
   */
  async keyword(experienceId: number, query: string, limit: number): Promise<RankedChunk[]> {
    const words = contentWords(query);
    if (!words.length) return [];
    const needed = Math.max(1, Math.ceil(words.length / 2));
    // chunks with every word first: that match is narrow and cheap, where OR over common words
    // ranks most of a large collection; only when too few have them all is the wider net cast
    const all = this.ranked(experienceId, ftsExpression(words.join(' '), 'AND')!, limit);
    if (all.length >= limit || words.length === 1) return all;
    // the wider net holds the words few chunks have: bm25 gives a word in most chunks almost no
    // weight, yet ranking every chunk that has it was most of a slow question's time
    const rare = words.filter((word) => !this.common(word));
    if (!rare.length) return all;
    const net = ftsExpression(rare.join(' '), 'OR')!;
    const candidates = this.ranked(experienceId, net, limit * 4);
    if (!candidates.length) return all;
    // which words each candidate has; within the net, so a common word's chunks are skipped over, not read
    const hits = new Map<number, number>();
    const has = this.statement('SELECT rowid FROM knowledge_fts WHERE knowledge_fts MATCH ?').pluck();
    const wanted = new Set(candidates.map((c) => c.chunkId));
    for (const word of words) {
      for (const id of has.all(`(${net}) AND ${ftsExpression(word, 'AND')}`) as number[]) if (wanted.has(id)) hits.set(id, (hits.get(id) ?? 0) + 1);
    }
    const inAll = new Set(all.map((c) => c.chunkId));
    const wider = candidates.filter((c) => !inAll.has(c.chunkId) && (hits.get(c.chunkId) ?? 0) >= needed);
    return [...all.map((chunk) => ({ chunk, hits: words.length })), ...wider.map((chunk) => ({ chunk, hits: hits.get(chunk.chunkId)! }))]
      .sort((a, b) => b.hits - a.hits || a.chunk.score - b.chunk.score)
      .slice(0, limit)
      .map((c) => c.chunk);
  }

  /**
   * The best `limit` chunks of one Experience for an FTS5 expression, by bm25. The best of every
   * Experience are ranked first without reading a chunk row (reading one per match was half the
   * time); when they hold `limit` of this Experience's, those are its best. Otherwise, as when
   * the Experience holds few of the chunks, every match is ranked with its Experience checked.
   */
  private ranked(experienceId: number, expression: string, limit: number): RankedChunk[] {
    const overall = this.statement('SELECT rowid AS chunkId, bm25(knowledge_fts) AS score FROM knowledge_fts WHERE knowledge_fts MATCH ? ORDER BY score LIMIT ?')
      .all(expression, limit * RANKED_ACROSS_EXPERIENCES) as RankedChunk[];
    const own = new Set(
      this.statement(
        `SELECT c.id FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id
         WHERE c.id IN (SELECT value FROM json_each(?)) AND +d.experience_id = ?`,
      )
        .pluck()
        .all(json(overall.map((c) => c.chunkId)), experienceId) as number[],
    );
    const mine = overall.filter((c) => own.has(c.chunkId));
    if (mine.length >= limit || overall.length < limit * RANKED_ACROSS_EXPERIENCES) return mine.slice(0, limit);
    return this.statement(
      `SELECT c.id AS chunkId, bm25(knowledge_fts) AS score
       FROM knowledge_fts JOIN knowledge_chunks c ON c.id = knowledge_fts.rowid JOIN knowledge_documents d ON d.id = c.document_id
       WHERE knowledge_fts MATCH ? AND d.experience_id = ?
       ORDER BY score LIMIT ?`,
    ).all(expression, experienceId, limit) as RankedChunk[];
  }

  /** Whether a word is in more than COMMON_WORD_CHUNKS chunks (of any Experience): counted only up to there. */
  private common(word: string): boolean {
    const seen = this.statement('SELECT count(*) AS n FROM (SELECT 1 FROM knowledge_fts WHERE knowledge_fts MATCH ? LIMIT ?)').get(ftsExpression(word, 'AND'), COMMON_WORD_CHUNKS + 1) as { n: number };
    return seen.n > COMMON_WORD_CHUNKS;
  }

  private statement(sql: string): SQLite.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.sqlite.prepare(sql)));
    return statement;
  }

  /** The nearest chunks of one Experience to `vector`, by cosine distance. */
  async nearest(experienceId: number, vector: Float32Array, limit: number): Promise<RankedChunk[]> {
    if (!this.hasVectorTable()) return [];
    return this.sqlite
      .prepare('SELECT chunk_id AS chunkId, distance AS score FROM knowledge_vec WHERE embedding MATCH ? AND k = ? AND experience_id = ? ORDER BY distance')
      .all(floatBlob(vector), limit, experienceId) as RankedChunk[];
  }
}
