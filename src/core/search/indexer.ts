import type { Db } from '../db/open.js';
import { ProviderError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PriceTable } from '../providers/pricing.js';
import type { EmbedOutcome, ProviderRouter } from '../providers/router.js';
import type { IndexProgress, PendingMessage, SearchIndex } from './search-index.js';
import { recordEmbedding } from '../usage/embedding.js';
import { BackgroundPasses } from '../background-passes.js';

/** Embedding models read a few thousand tokens at most; longer messages are embedded by their start. */
export const MAX_EMBED_CHARS = 8_000;
const RETRY_BASE_MS = 5_000;
const RETRY_MAX_MS = 15 * 60_000;
const PROGRESS_LOG_MS = 10_000;
/** an embedding request that takes longer (a model still loading on a slow disk) is tried later */
const EMBED_TIMEOUT_MS = 120_000;

export interface IndexerOptions {
  store: SearchIndex;
  router: ProviderRouter;
  prices: PriceTable;
  db: Db;
  log: Logger;
  now: () => Date;
  /** null: no semantic index, keyword search only */
  model: string | null;
  batchSize: number;
  concurrency: number;
  intervalMs: number;
}

export type IndexerState = 'off' | 'idle' | 'indexing' | 'failing';

export interface IndexerStatus extends IndexProgress {
  model: string | null;
  dimension: number | null;
  state: IndexerState;
}

function toVector(values: readonly number[], expected: number | null): Float32Array {
  if (!values.length || (expected !== null && values.length !== expected)) {
    throw new ProviderError('malformed', `embedding has ${values.length} dimensions${expected !== null ? `, expected ${expected}` : ''}`);
  }
  const vector = Float32Array.from(values);
  if (!vector.every(Number.isFinite)) throw new ProviderError('malformed', 'embedding holds a number that is not finite');
  return vector;
}

/**
 * Keeps the semantic index up to date in the background: takes queued messages (the database
 * queues every finished message), embeds them in batches with bounded concurrency, and stores
 * each vector in the same transaction that takes its message off the queue, so after a crash
 * or restart it resumes where it stopped and never embeds a stored message again. A failed
 * batch waits with exponential backoff; a batch the model refuses is split to find the message
 * at fault. Changing the model starts the index afresh.
 */
export class SearchIndexer {
  private readonly passes: BackgroundPasses;
  private lastProgressLog = 0;
  private lastError: string | null = null;
  private busy = false;
  /** the model check under way before the passes start */
  private starting: Promise<void> | null = null;
  /** why vectors cannot be stored (PostgreSQL without pgvector), when they cannot */
  private vectorsMissing: string | null = null;

  constructor(private readonly options: IndexerOptions) {
    this.passes = new BackgroundPasses({
      name: 'search', intervalMs: options.intervalMs, log: options.log,
      beforeFirst: async () => {
        await options.store.dropDeadEntries();
      },
      pass: (signal) => this.runOnce(signal),
    });
  }

  get model(): string | null {
    return this.options.model;
  }

  /**
   * Checks the stored index against the configured model (re-indexing when it changed) and starts.
   * Resolves once the check is done; a database that cannot be read is logged, never thrown.
   */
  start(): Promise<void> {
    if (!this.options.model || this.passes.started) return Promise.resolve();
    return (this.starting ??= this.check().finally(() => {
      this.starting = null;
    }));
  }

  private async check(): Promise<void> {
    const { model, store, log } = this.options;
    try {
      const support = await store.vectorSupport();
      this.vectorsMissing = support.ok ? null : support.reason ?? 'vectors cannot be stored';
      if (this.vectorsMissing) {
        log.warn(`search: keywords only: ${this.vectorsMissing}`);
        return;
      }
      const state = await store.state();
      if (state?.model !== model) {
        if (state) log.info(`search: the embedding model changed from ${state.model} to ${model}; re-indexing every message`);
        await store.reset(model!);
      }
      this.passes.start();
    } catch (err) {
      log.error(`search: the index could not be checked, so nothing is indexed: ${(err as Error).message}`);
    }
  }

  /** Stops, and gives back to the queue what this instance had taken and not stored. */
  async stop(): Promise<void> {
    await this.starting;
    await this.passes.stop();
    // a stop must finish: rows not given back wait for their claim to run out
    await this.options.store.release().catch((err: Error) => this.options.log.warn(`search: queue rows not given back at stop: ${err.message}`));
  }

  /** After a restore the index on disk is another one: check its model again and go on from its queue. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** The index's progress; while the model check at start is under way, as it will be after it. */
  async status(): Promise<IndexerStatus> {
    await this.starting;
    const { store, model } = this.options;
    const state = await store.state();
    const progress = await store.progress();
    const current = state && state.model === model ? state : null;
    if (this.vectorsMissing) return { ...progress, model, dimension: null, state: 'off', lastError: this.vectorsMissing };
    let indexer: IndexerState = 'off';
    if (model) indexer = progress.failing > 0 && this.lastError ? 'failing' : progress.queued > 0 || this.busy ? 'indexing' : 'idle';
    return { ...progress, model, dimension: current?.dimension ?? null, state: indexer, lastError: progress.lastError ?? this.lastError };
  }

  /** One pass: up to `concurrency` batches embedded at once. Resolves to the messages stored. */
  private async runOnce(signal: AbortSignal): Promise<number> {
    const { store, batchSize, concurrency, now } = this.options;
    if (!this.options.model) return 0;
    const queued = await store.due(batchSize * concurrency, now());
    if (!queued.length) return 0;
    // conversations moved to another Experience: their vectors move without a call to the model
    const moved = queued.filter((m) => m.reason === 'moved');
    const due = [...queued.filter((m) => m.reason !== 'moved'), ...(await store.move(moved))];
    if (!due.length) return moved.length;
    this.busy = true;
    try {
      const batches: PendingMessage[][] = [];
      for (let i = 0; i < due.length; i += batchSize) batches.push(due.slice(i, i + batchSize));
      const counts = await Promise.all(batches.map((batch) => this.embedBatch(batch, signal)));
      const stored = counts.reduce((a, b) => a + b, 0);
      await this.logProgress(stored);
      return stored;
    } finally {
      this.busy = false;
    }
  }

  private async embedBatch(batch: PendingMessage[], signal: AbortSignal): Promise<number> {
    const { store, router, model } = this.options;
    const texts = batch.map((m) => m.content.slice(0, MAX_EMBED_CHARS));
    let outcome: EmbedOutcome;
    const started = performance.now();
    const deadline = AbortSignal.timeout(EMBED_TIMEOUT_MS);
    try {
      outcome = await router.embed(model!, texts, AbortSignal.any([signal, deadline]));
    } catch (err) {
      if (signal.aborted) return 0;
      const error = deadline.aborted
        ? new ProviderError('timeout', `no embeddings within ${EMBED_TIMEOUT_MS / 1000} s`, { cause: err })
        : err instanceof ProviderError ? err : new ProviderError('malformed', String(err), { cause: err });
      await this.record(texts, null, Math.round(performance.now() - started), error);
      // a refused batch (bad input, too long) is split so one bad message holds up no other;
      // a slow or unreachable server is not the messages' fault: the batch waits and tries again
      if (!error.retryable && !deadline.aborted && batch.length > 1) {
        let stored = 0;
        for (const message of batch) stored += await this.embedBatch([message], signal);
        return stored;
      }
      await this.fail(batch, error);
      return 0;
    }
    try {
      const expected = (await store.state())?.dimension ?? null;
      const vectors = outcome.vectors.map((v) => toVector(v, expected ?? outcome.vectors[0]!.length));
      await store.ensureVectors(vectors[0]!.length);
      await store.store(batch.map((message, i) => ({ message, vector: vectors[i]! })));
      this.lastError = null;
      await this.record(texts, outcome, outcome.latencyMs, null);
      return batch.length;
    } catch (err) {
      const error = err instanceof ProviderError ? err : new ProviderError('malformed', (err as Error).message, { cause: err });
      await this.record(texts, outcome, outcome.latencyMs, error);
      await this.fail(batch, error);
      return 0;
    }
  }

  private async fail(batch: PendingMessage[], error: ProviderError): Promise<void> {
    const attempts = Math.max(...batch.map((m) => m.attempts));
    const delay = error.retryAfterMs ?? Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempts);
    const retryAt = new Date(this.options.now().getTime() + delay);
    if (error.message !== this.lastError) {
      this.options.log.warn(`search: embedding with ${this.options.model} failed (${error.message}); retrying in ${Math.round(delay / 1000)} s`);
    }
    this.lastError = error.message;
    await this.options.store.failed(batch.map((m) => m.messageId), error.message, retryAt);
  }

  private record(texts: string[], outcome: EmbedOutcome | null, latencyMs: number, error: ProviderError | null): Promise<void> {
    return recordEmbedding(this.options, { modelId: this.options.model!, texts, usage: outcome?.usage ?? null, answered: outcome !== null, latencyMs, error });
  }

  private async logProgress(stored: number): Promise<void> {
    const nowMs = Date.now();
    if (!stored || nowMs - this.lastProgressLog < PROGRESS_LOG_MS) return;
    this.lastProgressLog = nowMs;
    const { indexed, queued } = await this.options.store.progress();
    if (queued > 0) this.options.log.info(`search: ${indexed} messages indexed, ${queued} to go`);
  }
}
