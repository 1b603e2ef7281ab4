import { randomUUID } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db/open.js';
import { CLAIM_MS, setNearestScan, vectorLiteral } from '../search/pgvector.js';
import { PostgresVectorTable } from '../search/postgres-vectors.js';
import { keywordScore, textQuery, TEXT_SEARCH_CONFIG } from '../search/postgres-text.js';
import type { KnowledgeIndex, KnowledgeIndexState, KnowledgeProgress, PendingChunk, RankedChunk, VectorSupport } from './knowledge-index.js';
import { COMMON_WORD_CHUNKS, contentWords } from './store.js';

/**
 * The knowledge index on PostgreSQL: keywords through `knowledge_chunk_words`, the chunks' English
 * tsvectors (GIN-indexed, kept by migration 1100's triggers), vectors in `knowledge_vec` with pgvector (made once the dimension is
 * known; HNSW over cosine distance, the Experience beside each vector), the queue fed by migration
 * 1100's triggers and claimed with FOR UPDATE SKIP LOCKED, so several instances can embed at once.
 * Keyword retrieval keeps the SQLite store's rules: all content words first, then chunks with at
 * least half of them, words in more than COMMON_WORD_CHUNKS chunks left out of that wider net.
 */

const VECTORS = 'knowledge_vec';
/** how many nearest chunks the HNSW scan considers, at least */
const MIN_CANDIDATES = 100;

export class PostgresKnowledgeStore implements KnowledgeIndex {
  readonly kind = 'postgres';
  /** this instance's name on the queue rows it claims */
  private readonly claimer = randomUUID();
  /** whether this instance has taken queue rows since it last gave them back */
  private claiming = false;
  private readonly vectors: PostgresVectorTable;

  constructor(private readonly db: Db) {
    this.vectors = new PostgresVectorTable(db, {
      table: VECTORS, stateTable: 'knowledge_index', what: 'knowledge',
      columns: 'chunk_id integer PRIMARY KEY REFERENCES knowledge_chunks(id) ON DELETE CASCADE, experience_id integer NOT NULL, document_id integer NOT NULL',
    });
  }

  vectorSupport(): Promise<VectorSupport> {
    return this.vectors.vectorSupport();
  }

  state(): Promise<KnowledgeIndexState | null> {
    return this.vectors.state();
  }

  async reset(model: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await this.vectors.restart(trx, model);
      await sql`UPDATE knowledge_queue SET attempts = 0, not_before = NULL, last_error = NULL`.execute(trx);
      await sql`INSERT INTO knowledge_queue(chunk_id) SELECT id FROM knowledge_chunks ON CONFLICT (chunk_id) DO NOTHING`.execute(trx);
    });
  }

  ensureVectors(dimension: number): Promise<void> {
    return this.vectors.ensure(dimension);
  }

  async due(limit: number, now: Date): Promise<PendingChunk[]> {
    const at = now.toISOString();
    const until = new Date(now.getTime() + CLAIM_MS).toISOString();
    this.claiming = true;
    const rows = await sql<PendingChunk>`
      WITH taken AS (
        UPDATE knowledge_queue q SET claimed_by = ${this.claimer}, claimed_until = ${until}
        WHERE q.chunk_id IN (
          SELECT chunk_id FROM knowledge_queue
          WHERE (not_before IS NULL OR not_before <= ${at}) AND (claimed_until IS NULL OR claimed_until <= ${at})
          ORDER BY chunk_id LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)
        RETURNING q.chunk_id, q.attempts)
      SELECT t.chunk_id AS "chunkId", c.text, c.document_id AS "documentId", d.experience_id AS "experienceId", t.attempts
      FROM taken t JOIN knowledge_chunks c ON c.id = t.chunk_id JOIN knowledge_documents d ON d.id = c.document_id
      ORDER BY t.chunk_id`.execute(this.db);
    return rows.rows;
  }

  async store(batch: ReadonlyArray<{ chunk: PendingChunk; vector: Float32Array }>, now: Date): Promise<void> {
    if (!batch.length) return;
    const ids = batch.map((b) => b.chunk.chunkId);
    await this.db.transaction().execute(async (trx) => {
      // a chunk deleted or changed while it was embedded is not stored (a changed one stays queued)
      const stored = await sql<{ chunkId: number; documentId: number }>`
        INSERT INTO knowledge_vec(chunk_id, experience_id, document_id, embedding)
        SELECT t.id, t.experience_id, t.document_id, t.embedding::vector
        FROM unnest(${ids}::integer[], ${batch.map((b) => b.chunk.experienceId)}::integer[], ${batch.map((b) => b.chunk.documentId)}::integer[],
                    ${batch.map((b) => b.chunk.text)}::text[], ${batch.map((b) => vectorLiteral(b.vector))}::text[])
          AS t(id, experience_id, document_id, text, embedding)
        JOIN knowledge_chunks c ON c.id = t.id AND c.text = t.text
        ON CONFLICT (chunk_id) DO UPDATE SET experience_id = EXCLUDED.experience_id, document_id = EXCLUDED.document_id, embedding = EXCLUDED.embedding
        RETURNING chunk_id AS "chunkId", document_id AS "documentId"`.execute(trx);
      const done = stored.rows.map((r) => r.chunkId);
      await sql`DELETE FROM knowledge_queue WHERE chunk_id = ANY(${done}::integer[])`.execute(trx);
      await sql`UPDATE knowledge_queue SET claimed_by = NULL, claimed_until = NULL WHERE chunk_id = ANY(${ids}::integer[]) AND claimed_by = ${this.claimer}`.execute(trx);
      const documents = [...new Set(stored.rows.map((r) => r.documentId))];
      await sql`
        UPDATE knowledge_documents d SET status = 'indexed', indexed_at = ${now.toISOString()}, error = NULL
        WHERE d.id = ANY(${documents}::integer[]) AND d.status = 'indexing'
          AND NOT EXISTS (SELECT 1 FROM knowledge_queue q JOIN knowledge_chunks c ON c.id = q.chunk_id WHERE c.document_id = d.id)`.execute(trx);
    });
  }

  async failed(chunkIds: readonly number[], error: string, retryAt: Date): Promise<void> {
    const ids = [...chunkIds];
    await this.db.transaction().execute(async (trx) => {
      await sql`
        UPDATE knowledge_queue SET attempts = attempts + 1, last_error = ${error.slice(0, 500)}, not_before = ${retryAt.toISOString()},
          claimed_by = NULL, claimed_until = NULL
        WHERE chunk_id = ANY(${ids}::integer[])`.execute(trx);
      await sql`
        UPDATE knowledge_documents SET error = ${`embedding failed, will retry: ${error.slice(0, 300)}`}
        WHERE status = 'indexing' AND id IN (SELECT document_id FROM knowledge_chunks WHERE id = ANY(${ids}::integer[]))`.execute(trx);
    });
  }

  async release(): Promise<void> {
    if (!this.claiming) return;
    await sql`UPDATE knowledge_queue SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ${this.claimer}`.execute(this.db);
    this.claiming = false;
  }

  async hasChunks(experienceId: number): Promise<boolean> {
    const rows = await sql`
      SELECT 1 AS one FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id WHERE d.experience_id = ${experienceId} LIMIT 1`.execute(this.db);
    return rows.rows.length > 0;
  }

  async progress(experienceId?: number): Promise<KnowledgeProgress> {
    const scope = (column: string): RawBuilder<unknown> => (experienceId === undefined ? sql`` : sql` AND ${sql.raw(column)} = ${experienceId}`);
    const documents = { queued: 0, indexing: 0, indexed: 0, failed: 0 };
    const statuses = await sql<{ status: keyof typeof documents; n: number }>`
      SELECT d.status, count(*) AS n FROM knowledge_documents d WHERE true${scope('d.experience_id')} GROUP BY d.status`.execute(this.db);
    for (const row of statuses.rows) documents[row.status] = row.n;
    const chunks = (await sql<{ n: number }>`
      SELECT count(*) AS n FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id WHERE true${scope('d.experience_id')}`.execute(this.db)).rows[0]!.n;
    const embedded = (await this.vectors.exists())
      ? (await sql<{ n: number }>`SELECT count(*) AS n FROM knowledge_vec v WHERE true${scope('v.experience_id')}`.execute(this.db)).rows[0]!.n
      : 0;
    const queue = await sql<{ waiting: number; failing: number; lastError: string | null }>`
      SELECT count(*) AS waiting, count(*) FILTER (WHERE q.attempts > 0) AS failing,
        (SELECT q2.last_error FROM knowledge_queue q2 JOIN knowledge_chunks c2 ON c2.id = q2.chunk_id JOIN knowledge_documents d ON d.id = c2.document_id
         WHERE q2.last_error IS NOT NULL${scope('d.experience_id')} ORDER BY q2.not_before DESC LIMIT 1) AS "lastError"
      FROM knowledge_queue q JOIN knowledge_chunks c ON c.id = q.chunk_id JOIN knowledge_documents d ON d.id = c.document_id
      WHERE true${scope('d.experience_id')}`.execute(this.db);
    return { documents, chunks, embedded, ...queue.rows[0]! };
  }

  async keyword(experienceId: number, query: string, limit: number): Promise<RankedChunk[]> {
    // words PostgreSQL's English configuration drops ("over", "under") cannot be searched for
    const words = await this.searchable(contentWords(query));
    if (!words.length) return [];
    const needed = Math.max(1, Math.ceil(words.length / 2));
    const all = await this.ranked(experienceId, textQuery(words, 'AND'), limit);
    if (all.length >= limit || words.length === 1) return all;
    const rare = [];
    for (const word of words) if (!(await this.common(word))) rare.push(word);
    if (!rare.length) return all;
    const candidates = await this.ranked(experienceId, textQuery(rare, 'OR'), limit * 4);
    if (!candidates.length) return all;
    const hits = await this.wordsIn(candidates.map((c) => c.chunkId), words);
    const inAll = new Set(all.map((c) => c.chunkId));
    const wider = candidates.filter((c) => !inAll.has(c.chunkId) && (hits.get(c.chunkId) ?? 0) >= needed);
    return [...all.map((chunk) => ({ chunk, hits: words.length })), ...wider.map((chunk) => ({ chunk, hits: hits.get(chunk.chunkId)! }))]
      .sort((a, b) => b.hits - a.hits || a.chunk.score - b.chunk.score)
      .slice(0, limit)
      .map((c) => c.chunk);
  }

  async nearest(experienceId: number, vector: Float32Array, limit: number): Promise<RankedChunk[]> {
    if (!(await this.vectors.exists())) return [];
    const query = vectorLiteral(vector);
    return this.db.transaction().execute(async (trx) => {
      await setNearestScan(trx, Math.max(MIN_CANDIDATES, limit));
      const rows = await sql<RankedChunk>`
        SELECT chunk_id AS "chunkId", embedding <=> ${query}::vector AS score FROM knowledge_vec
        WHERE experience_id = ${experienceId} ORDER BY embedding <=> ${query}::vector LIMIT ${limit}`.execute(trx);
      return rows.rows;
    });
  }

  /** The best `limit` chunks of one Experience for a tsquery. */
  private async ranked(experienceId: number, tsquery: RawBuilder<unknown>, limit: number): Promise<RankedChunk[]> {
    const rows = await sql<RankedChunk>`
      SELECT c.id AS "chunkId", ${keywordScore('w.words', tsquery)} AS score
      FROM knowledge_chunk_words w JOIN knowledge_chunks c ON c.id = w.chunk_id JOIN knowledge_documents d ON d.id = c.document_id
      WHERE w.words @@ ${tsquery} AND d.experience_id = ${experienceId}
      ORDER BY score, c.id LIMIT ${limit}`.execute(this.db);
    return rows.rows;
  }

  /** The words that leave a lexeme under the text search configuration, in their order. */
  private async searchable(words: readonly string[]): Promise<string[]> {
    if (!words.length) return [];
    const rows = await sql<{ word: string }>`
      SELECT w.word FROM unnest(${[...words]}::text[]) WITH ORDINALITY AS w(word, n)
      WHERE numnode(plainto_tsquery(${sql.lit(TEXT_SEARCH_CONFIG)}, w.word)) > 0 ORDER BY w.n`.execute(this.db);
    return rows.rows.map((r) => r.word);
  }

  /** Whether a word is in more than COMMON_WORD_CHUNKS chunks (of any Experience): counted only up to there. */
  private async common(word: string): Promise<boolean> {
    const tsquery = textQuery([word], 'AND');
    const rows = await sql<{ n: number }>`
      SELECT count(*) AS n FROM (SELECT 1 FROM knowledge_chunk_words w WHERE w.words @@ ${tsquery} LIMIT ${COMMON_WORD_CHUNKS + 1}) s`.execute(this.db);
    return rows.rows[0]!.n > COMMON_WORD_CHUNKS;
  }

  /** How many of `words` each chunk holds. */
  private async wordsIn(chunkIds: readonly number[], words: readonly string[]): Promise<Map<number, number>> {
    const rows = await sql<{ chunkId: number; hits: number }>`
      SELECT c.chunk_id AS "chunkId", count(*) AS hits
      FROM knowledge_chunk_words c CROSS JOIN unnest(${words.map((w) => `'${w}'`)}::text[]) AS w(query)
      WHERE c.chunk_id = ANY(${[...chunkIds]}::integer[]) AND c.words @@ to_tsquery(${sql.lit(TEXT_SEARCH_CONFIG)}, w.query)
      GROUP BY c.chunk_id`.execute(this.db);
    return new Map(rows.rows.map((r) => [r.chunkId, r.hits]));
  }
}
