import type { VectorSupport } from '../search/search-index.js';

/**
 * What the knowledge indexer and retriever need from an index of chunks, on either database:
 * SQLite (`store.ts`: FTS5 + sqlite-vec) or PostgreSQL (`postgres-store.ts`: tsvector + pgvector).
 * Every read takes an Experience id; nothing here crosses from one Experience into another.
 */

export type { VectorSupport } from '../search/search-index.js';

export interface KnowledgeIndexState {
  model: string;
  dimension: number | null;
}

export interface PendingChunk {
  chunkId: number;
  text: string;
  documentId: number;
  experienceId: number;
  attempts: number;
}

export interface RankedChunk {
  chunkId: number;
  /** cosine distance for vectors; for keywords bm25 (SQLite) or minus ts_rank_cd (PostgreSQL): lower is better */
  score: number;
}

export interface KnowledgeProgress {
  documents: { queued: number; indexing: number; indexed: number; failed: number };
  chunks: number;
  /** chunks with a vector */
  embedded: number;
  /** chunks waiting for a vector */
  waiting: number;
  /** waiting chunks whose last try failed */
  failing: number;
  lastError: string | null;
}

export interface KnowledgeIndex {
  readonly kind: 'sqlite' | 'postgres';
  vectorSupport(): Promise<VectorSupport>;
  state(): Promise<KnowledgeIndexState | null>;
  /** Starts the vectors afresh for a model: all dropped, every chunk queued again. */
  reset(model: string): Promise<void>;
  /** Makes the vector table once the dimension is known; vectors of another length are refused. */
  ensureVectors(dimension: number): Promise<void>;
  /** Up to `limit` queued chunks whose time has come, oldest first, taken for this instance. */
  due(limit: number, now: Date): Promise<PendingChunk[]>;
  /** Stores vectors and dequeues their chunks in one transaction; documents left with nothing to embed become indexed. */
  store(batch: ReadonlyArray<{ chunk: PendingChunk; vector: Float32Array }>, now: Date): Promise<void>;
  /** A failed batch waits until `retryAt`; its documents carry the reason meanwhile. */
  failed(chunkIds: readonly number[], error: string, retryAt: Date): Promise<void>;
  /** Gives back what this instance took from the queue and did not finish (at stop). */
  release(): Promise<void>;
  /** Whether the Experience has anything to search: checked before a question is embedded. */
  hasChunks(experienceId: number): Promise<boolean>;
  /** Progress of one Experience, or of all. */
  progress(experienceId?: number): Promise<KnowledgeProgress>;
  /** Chunks of one Experience with all of the question's content words, then those with at least half. */
  keyword(experienceId: number, query: string, limit: number): Promise<RankedChunk[]>;
  /** The nearest chunks of one Experience to `vector`, by cosine distance. */
  nearest(experienceId: number, vector: Float32Array, limit: number): Promise<RankedChunk[]>;
}
