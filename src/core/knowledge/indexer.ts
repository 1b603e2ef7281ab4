import type { Db } from '../db/open.js';
import { ProviderError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PriceTable } from '../providers/pricing.js';
import type { EmbedOutcome, ProviderRouter } from '../providers/router.js';
import { MAX_EMBED_CHARS } from '../search/indexer.js';
import type { KnowledgeIndex, KnowledgeProgress, PendingChunk } from './knowledge-index.js';
import { recordEmbedding } from '../usage/embedding.js';
import { BackgroundPasses } from '../background-passes.js';

const RETRY_BASE_MS = 5_000;
const RETRY_MAX_MS = 15 * 60_000;
/** a request that takes longer (a model still loading) is tried again later */
const EMBED_TIMEOUT_MS = 120_000;

export interface KnowledgeIndexerOptions {
  store: KnowledgeIndex;
  router: ProviderRouter;
  prices: PriceTable;
  db: Db;
  log: Logger;
  now: () => Date;
  /** the conversation search's model (`search.embeddingModel`); null: keywords only */
  model: string | null;
  batchSize: number;
  concurrency: number;
  intervalMs: number;
}

export interface KnowledgeIndexerStatus extends KnowledgeProgress {
  model: string | null;
  /** off: keywords only; idle: every chunk has its vector; indexing: some wait; failing: the last try failed */
  state: 'off' | 'idle' | 'indexing' | 'failing';
}

/**
 * Embeds queued chunks in the background, like the conversation search's indexer: batches per
 * Experience with bounded concurrency, each vector stored in the transaction that dequeues its
 * chunk (so a crash or restart re-embeds nothing stored), failures retried with backoff, a
 * refused batch split to find the chunk at fault. With no embedding model it does not run:
 * chunks stay queued (keyword search needs nothing more) and are embedded once a model is set.
 */
export class KnowledgeIndexer {
  private readonly passes: BackgroundPasses;
  private lastError: string | null = null;
  /** the model check under way before the passes start */
  private starting: Promise<void> | null = null;
  /** why vectors cannot be stored (PostgreSQL without pgvector), when they cannot */
  private vectorsMissing: string | null = null;

  constructor(private readonly options: KnowledgeIndexerOptions) {
    this.passes = new BackgroundPasses({ name: 'knowledge', intervalMs: options.intervalMs, log: options.log, pass: (signal) => this.runOnce(signal) });
  }

  get model(): string | null {
    return this.options.model;
  }

  /** Checks the stored vectors' model (re-embedding when it changed) and starts; resolves once checked, never throws. */
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
        log.warn(`knowledge: keywords only: ${this.vectorsMissing}`);
        return;
      }
      const state = await store.state();
      if (state?.model !== model) {
        if (state) log.info(`knowledge: the embedding model changed from ${state.model} to ${model}; re-embedding every chunk`);
        await store.reset(model!);
      }
      this.passes.start();
    } catch (err) {
      log.error(`knowledge: the index could not be checked, so nothing is embedded: ${(err as Error).message}`);
    }
  }

  /** Stops, and gives back to the queue what this instance had taken and not stored. */
  async stop(): Promise<void> {
    await this.starting;
    await this.passes.stop();
    // a stop must finish: rows not given back wait for their claim to run out
    await this.options.store.release().catch((err: Error) => this.options.log.warn(`knowledge: queue rows not given back at stop: ${err.message}`));
  }

  /** After a restore the index on disk is another one: check its model again and go on from its queue. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** New chunks are queued: look now rather than at the next interval. */
  nudge(): void {
    this.passes.nudge();
  }

  /** Progress of one Experience, or of all; while the model check at start is under way, as it will be after it. */
  async status(experienceId?: number): Promise<KnowledgeIndexerStatus> {
    await this.starting;
    const progress = await this.options.store.progress(experienceId);
    const { model } = this.options;
    if (this.vectorsMissing) return { ...progress, model, state: 'off', lastError: this.vectorsMissing };
    let state: KnowledgeIndexerStatus['state'] = 'off';
    if (model) state = progress.failing > 0 ? 'failing' : progress.waiting > 0 ? 'indexing' : 'idle';
    return { ...progress, model, state, lastError: progress.lastError ?? (model ? this.lastError : null) };
  }

  private async runOnce(signal: AbortSignal): Promise<number> {
    const { store, batchSize, concurrency, now } = this.options;
    const due = await store.due(batchSize * concurrency, now());
    if (!due.length) return 0;
    const byExperience = new Map<number, PendingChunk[]>();
    for (const chunk of due) (byExperience.get(chunk.experienceId) ?? byExperience.set(chunk.experienceId, []).get(chunk.experienceId)!).push(chunk);
    const batches: PendingChunk[][] = [];
    for (const chunks of byExperience.values()) for (let i = 0; i < chunks.length; i += batchSize) batches.push(chunks.slice(i, i + batchSize));
    let stored = 0;
    for (let i = 0; i < batches.length; i += concurrency) {
      const counts = await Promise.all(batches.slice(i, i + concurrency).map((batch) => this.embedBatch(batch, signal)));
      stored += counts.reduce((a, b) => a + b, 0);
    }
    return stored;
  }

  private async embedBatch(batch: PendingChunk[], signal: AbortSignal): Promise<number> {
    const { store, router, now } = this.options;
    const model = this.options.model!;
    const texts = batch.map((c) => c.text.slice(0, MAX_EMBED_CHARS));
    const started = performance.now();
    const deadline = AbortSignal.timeout(EMBED_TIMEOUT_MS);
    let outcome: EmbedOutcome;
    try {
      outcome = await router.embed(model, texts, AbortSignal.any([signal, deadline]));
    } catch (err) {
      if (signal.aborted) return 0;
      const error = deadline.aborted
        ? new ProviderError('timeout', `no embeddings within ${EMBED_TIMEOUT_MS / 1000} s`, { cause: err })
        : err instanceof ProviderError ? err : new ProviderError('malformed', String(err), { cause: err });
      await this.record(batch, texts, null, Math.round(performance.now() - started), error);
      if (!error.retryable && !deadline.aborted && batch.length > 1) {
        let stored = 0;
        for (const chunk of batch) stored += await this.embedBatch([chunk], signal);
        return stored;
      }
      await this.fail(batch, error);
      return 0;
    }
    try {
      const dimension = (await store.state())?.dimension ?? outcome.vectors[0]?.length ?? 0;
      const vectors = outcome.vectors.map((values) => {
        if (!values.length || values.length !== dimension) throw new ProviderError('malformed', `embedding has ${values.length} dimensions, expected ${dimension}`);
        const vector = Float32Array.from(values);
        if (!vector.every(Number.isFinite)) throw new ProviderError('malformed', 'embedding holds a number that is not finite');
        return vector;
      });
      if (vectors.length !== batch.length) throw new ProviderError('malformed', `${vectors.length} embeddings for ${batch.length} texts`);
      await store.ensureVectors(dimension);
      await store.store(batch.map((chunk, i) => ({ chunk, vector: vectors[i]! })), now());
      this.lastError = null;
      await this.record(batch, texts, outcome, outcome.latencyMs, null);
      return batch.length;
    } catch (err) {
      const error = err instanceof ProviderError ? err : new ProviderError('malformed', (err as Error).message, { cause: err });
      await this.record(batch, texts, outcome, outcome.latencyMs, error);
      await this.fail(batch, error);
      return 0;
    }
  }

  private async fail(batch: PendingChunk[], error: ProviderError): Promise<void> {
    const attempts = Math.max(...batch.map((c) => c.attempts));
    const delay = error.retryAfterMs ?? Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempts);
    if (error.message !== this.lastError) {
      this.options.log.warn(`knowledge: embedding with ${this.options.model} failed (${error.message}); retrying in ${Math.round(delay / 1000)} s`);
    }
    this.lastError = error.message;
    await this.options.store.failed(batch.map((c) => c.chunkId), error.message, new Date(this.options.now().getTime() + delay));
  }

  private record(batch: PendingChunk[], texts: string[], outcome: EmbedOutcome | null, latencyMs: number, error: ProviderError | null): Promise<void> {
    return recordEmbedding(
      this.options,
      { modelId: this.options.model!, texts, usage: outcome?.usage ?? null, answered: outcome !== null, latencyMs, error },
      { platform: null, userId: null, experienceId: batch[0]!.experienceId },
      'knowledge',
    );
  }
}
