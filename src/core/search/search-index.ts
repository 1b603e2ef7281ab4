/**
 * What the search service and its indexer need from an index of messages, on either database:
 * SQLite (`store.ts`: FTS5 + sqlite-vec) or PostgreSQL (`postgres-store.ts`: tsvector + pgvector).
 * Asynchronous because PostgreSQL is; the SQLite store answers at once.
 */

export interface IndexState {
  model: string;
  /** null until the model's first vector said how long its vectors are */
  dimension: number | null;
}

/** A queued message, with what the index keeps beside its vector. */
export interface PendingMessage {
  messageId: number;
  content: string;
  experienceId: number;
  conversationId: number;
  platform: string;
  channelId: string;
  authorId: string;
  /** failed tries so far */
  attempts: number;
  /** content: embed it; moved: its conversation changed Experience (its vector, if any, moves) */
  reason: 'content' | 'moved';
}

export interface VectorFilter {
  /** Experiences to search; absent: all */
  experienceIds?: readonly number[];
  platform?: string;
  /** absent: every channel */
  channelIds?: readonly string[];
  conversationIds?: readonly number[];
}

export interface KeywordFilter extends VectorFilter {}

export interface Ranked {
  messageId: number;
  /** cosine distance for vectors; for keywords bm25 (SQLite) or minus ts_rank_cd (PostgreSQL): lower is better */
  score: number;
}

export interface IndexProgress {
  indexed: number;
  queued: number;
  /** queued messages whose last attempt failed */
  failing: number;
  lastError: string | null;
}

/** Whether vectors can be stored at all: without pgvector, PostgreSQL searches by keywords only. */
export interface VectorSupport {
  ok: boolean;
  /** why not, in words an operator can act on */
  reason?: string;
}

export interface SearchIndex {
  readonly kind: 'sqlite' | 'postgres';
  vectorSupport(): Promise<VectorSupport>;
  state(): Promise<IndexState | null>;
  /** Starts the index afresh for a model: vectors dropped, every final message queued again. */
  reset(model: string): Promise<void>;
  /** Makes the vector table once the dimension is known; a model whose vectors changed length is refused. */
  ensureVectors(dimension: number): Promise<void>;
  /** Up to `limit` queued messages whose time has come, oldest first, taken for this instance. */
  due(limit: number, now: Date): Promise<PendingMessage[]>;
  /** Queue entries whose message is gone or empty: nothing to embed. */
  dropDeadEntries(): Promise<number>;
  /** Stores vectors and dequeues their messages in one transaction; a message changed meanwhile stays queued. */
  store(batch: ReadonlyArray<{ message: PendingMessage; vector: Float32Array }>): Promise<void>;
  /** Moves the vectors of messages whose conversation changed Experience; returns those with no vector yet. */
  move(messages: readonly PendingMessage[]): Promise<PendingMessage[]>;
  /** A failed batch waits until `retryAt`. */
  failed(messageIds: readonly number[], error: string, retryAt: Date): Promise<void>;
  /** Gives back what this instance took from the queue and did not finish (at stop). */
  release(): Promise<void>;
  progress(): Promise<IndexProgress>;
  /** Nearest messages to `vector` within the filter, by cosine distance. */
  nearest(vector: Float32Array, filter: VectorFilter, limit: number, candidates: number): Promise<Ranked[]>;
  /** Messages with all of the query's words first, topped up with those having some. */
  keyword(query: string, filter: KeywordFilter, limit: number): Promise<Ranked[]>;
}

/** The words of a query, lower case, once each: what both dialects search for (no operators from users). */
export function queryWords(query: string): string[] {
  return [...new Set((query.match(/[\p{L}\p{N}_]+/gu) ?? []).map((w) => w.toLowerCase()))];
}
