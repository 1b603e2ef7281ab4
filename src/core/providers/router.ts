import { ProviderError } from '../errors.js';
import { ProviderGate, type ProviderLimits } from './limits.js';
import type { ChatMessage, EmbedResult, GenerationParams, Provider, TokenUsage, ToolCall, ToolSpec } from './types.js';

export type { ProviderLimits };

export interface RouterOptions {
  retries: number;
  retryBaseDelayMs: number;
  firstTokenTimeoutMs: number;
  totalTimeoutMs: number;
  limits?: Record<string, ProviderLimits>;
  /** longest pause honoured from a retry-after header before giving up on that model */
  maxRetryAfterMs?: number;
  random?: () => number;
}

/** One provider call, reported for the usage ledger (failed attempts too). */
export interface ProviderCall {
  modelId: string;
  provider: string;
  model: string;
  usage: TokenUsage | null;
  outputText: string;
  latencyMs: number;
  ttftMs: number | null;
  status: 'ok' | 'partial' | 'error';
  error: ProviderError | null;
}

export interface StreamRequest {
  /** `provider/model` ids in order: the chosen model first, then its fallbacks */
  candidates: string[];
  messages: ChatMessage[];
  params: GenerationParams;
  /** tools the model may call; the candidates should be models that can */
  tools?: ToolSpec[];
  signal?: AbortSignal;
  onText?: (delta: string) => void;
  /** called before the first byte from each model tried */
  onAttempt?: (modelId: string) => void;
  onCall?: (call: ProviderCall) => void;
}

export interface StreamOutcome {
  /** the model that produced the text (or the last one tried) */
  modelId: string | null;
  text: string;
  /** the tools the model asked to call, whole; only from an answer that finished */
  toolCalls: ToolCall[];
  usage: TokenUsage | null;
  stopReason: string | null;
  status: 'ok' | 'partial' | 'error' | 'aborted';
  error: ProviderError | null;
  /** models that failed before their first token, in order */
  failures: Array<{ modelId: string; error: ProviderError }>;
  ttftMs: number | null;
  latencyMs: number;
}

export interface EmbedOutcome extends EmbedResult {
  modelId: string;
  provider: string;
  model: string;
  latencyMs: number;
}

export function splitModelId(modelId: string): { provider: string; model: string } {
  const slash = modelId.indexOf('/');
  return slash < 0 ? { provider: '', model: modelId } : { provider: modelId.slice(0, slash), model: modelId.slice(slash + 1) };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

type AttemptResult =
  | { kind: 'ok'; text: string; toolCalls: ToolCall[]; usage: TokenUsage | null; stopReason: string | null; ttftMs: number | null }
  | { kind: 'failed'; text: string; error: ProviderError; ttftMs: number | null; notSent?: true };

/**
 * Picks a model, streams from it, retries and falls back. Never throws for provider trouble:
 * everything ends in a StreamOutcome. A failure before the first token tries again (5xx, 429,
 * connection) and then the next fallback; a failure after it keeps the partial text.
 */
export class ProviderRouter {
  private readonly gates = new Map<string, ProviderGate>();
  private stopped = false;
  private readonly random: () => number;
  private readonly providers: Map<string, Provider>;
  private readonly limits: Record<string, ProviderLimits>;

  constructor(
    providers: ReadonlyMap<string, Provider>,
    private readonly options: RouterOptions,
  ) {
    this.random = options.random ?? Math.random;
    this.providers = new Map(providers);
    this.limits = { ...options.limits };
  }

  /**
   * Adds or replaces a provider at run time (a connection made in the admin), with its limits.
   * Calls already running on a replaced provider finish on it; new calls take the new one.
   */
  putProvider(name: string, provider: Provider, limits: ProviderLimits): void {
    this.providers.set(name, provider);
    this.limits[name] = limits;
    this.gates.delete(name);
  }

  /** Withdraws a provider: answers in flight on it may finish; later turns on it fail as unknown. */
  removeProvider(name: string): boolean {
    delete this.limits[name];
    this.gates.delete(name);
    return this.providers.delete(name);
  }

  provider(name: string): Provider | undefined {
    return this.providers.get(name);
  }

  get providerNames(): string[] {
    return [...this.providers.keys()];
  }

  private gate(provider: string): ProviderGate {
    let gate = this.gates.get(provider);
    if (!gate) {
      gate = new ProviderGate(this.limits[provider] ?? { maxConcurrent: 4, requestsPerMinute: null });
      if (this.stopped) gate.stop();
      this.gates.set(provider, gate);
    }
    return gate;
  }

  async stream(request: StreamRequest): Promise<StreamOutcome> {
    const started = performance.now();
    // the total timeout bounds the whole answer, retries and fallbacks included
    const deadline = started + this.options.totalTimeoutMs;
    const failures: StreamOutcome['failures'] = [];
    let lastModel: string | null = null;
    let lastError: ProviderError | null = null;
    const candidates = [...new Set(request.candidates)];
    for (const modelId of candidates) {
      lastModel = modelId;
      const { provider: providerName, model } = splitModelId(modelId);
      const provider = this.providers.get(providerName);
      if (!provider) {
        lastError = new ProviderError('unknown_model', `no provider named "${providerName}" is configured (model ${modelId})`);
        failures.push({ modelId, error: lastError });
        continue;
      }
      for (let attempt = 0; ; attempt++) {
        if (request.signal?.aborted) return this.aborted(modelId, '', null, failures, started);
        request.onAttempt?.(modelId);
        let attemptStart = performance.now();
        // the first-token timeout runs from here: a turn stuck in the provider's queue is as late as a silent model
        const firstTokenDeadline = attemptStart + this.options.firstTokenTimeoutMs;
        const result = await this.queued(providerName, request.signal, Math.min(firstTokenDeadline, deadline), () => {
          attemptStart = performance.now(); // time waiting for the gate is not the provider's latency
          return this.attempt(provider, model, request, deadline, firstTokenDeadline);
        });
        const latencyMs = Math.round(performance.now() - attemptStart);
        if (result.kind === 'ok') {
          request.onCall?.({ modelId, provider: providerName, model, usage: result.usage, outputText: result.text, latencyMs, ttftMs: result.ttftMs, status: 'ok', error: null });
          return {
            modelId, text: result.text, toolCalls: result.toolCalls, usage: result.usage, stopReason: result.stopReason, status: 'ok', error: null,
            failures, ttftMs: result.ttftMs, latencyMs: Math.round(performance.now() - started),
          };
        }
        const partial = result.text.length > 0;
        if (!result.notSent) {
          request.onCall?.({ modelId, provider: providerName, model, usage: null, outputText: result.text, latencyMs, ttftMs: result.ttftMs, status: partial ? 'partial' : 'error', error: result.error });
        }
        if (result.error.failure === 'aborted') return this.aborted(modelId, result.text, result.ttftMs, failures, started);
        if (partial) {
          return {
            modelId, text: result.text, toolCalls: [], usage: null, stopReason: null, status: 'partial', error: result.error,
            failures, ttftMs: result.ttftMs, latencyMs: Math.round(performance.now() - started),
          };
        }
        lastError = result.error;
        const delay = this.retryDelay(result.error, attempt);
        if (delay === null) {
          failures.push({ modelId, error: result.error });
          break;
        }
        await sleep(delay, request.signal);
      }
    }
    return {
      modelId: lastModel, text: '', toolCalls: [], usage: null, stopReason: null, status: 'error',
      error: lastError ?? new ProviderError('unknown_model', 'no model to try'), failures, ttftMs: null,
      latencyMs: Math.round(performance.now() - started),
    };
  }

  /** Milliseconds to wait before retrying the same model, or null to move on. */
  private retryDelay(error: ProviderError, attempt: number): number | null {
    if (!error.retryable || attempt >= this.options.retries) return null;
    const maxRetryAfter = this.options.maxRetryAfterMs ?? 30_000;
    if (error.retryAfterMs !== null) return error.retryAfterMs <= maxRetryAfter ? error.retryAfterMs : null;
    const base = this.options.retryBaseDelayMs * 2 ** attempt;
    return Math.round(base / 2 + this.random() * base); // "equal jitter": never zero, never in lockstep
  }

  private aborted(modelId: string, text: string, ttftMs: number | null, failures: StreamOutcome['failures'], started: number): StreamOutcome {
    return {
      modelId, text, toolCalls: [], usage: null, stopReason: 'aborted', status: 'aborted',
      error: new ProviderError('aborted', 'stopped by the user'), failures, ttftMs,
      latencyMs: Math.round(performance.now() - started),
    };
  }

  /**
   * Runs `job` through the provider's gate. A call still waiting there at `waitDeadline` is
   * withdrawn from the queue (never sent later) and fails as a timeout.
   */
  private async queued(providerName: string, signal: AbortSignal | undefined, waitDeadline: number, job: () => Promise<AttemptResult>): Promise<AttemptResult> {
    const waiting = new AbortController();
    const onCallerAbort = (): void => waiting.abort();
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (signal?.aborted) waiting.abort();
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      waiting.abort();
    }, Math.max(0, waitDeadline - performance.now()));
    try {
      return await this.gate(providerName).run(() => {
        clearTimeout(timer);
        return job();
      }, waiting.signal);
    } catch (err) {
      const error = late
        ? new ProviderError('timeout', `no first token within ${this.options.firstTokenTimeoutMs} ms: still waiting for a free ${providerName} slot`, { cause: err })
        : err instanceof ProviderError ? err : new ProviderError('aborted', String(err), { cause: err });
      return { kind: 'failed', text: '', error, ttftMs: null, notSent: true };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  private async attempt(provider: Provider, model: string, request: StreamRequest, deadline: number, firstTokenDeadline: number): Promise<AttemptResult> {
    const controller = new AbortController();
    let timedOut: 'first_token' | 'total' | null = null;
    const onCallerAbort = (): void => controller.abort(request.signal?.reason);
    if (request.signal?.aborted) onCallerAbort();
    request.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const firstTokenTimer = setTimeout(() => {
      timedOut = 'first_token';
      controller.abort();
    }, Math.max(0, firstTokenDeadline - performance.now()));
    const totalTimer = setTimeout(() => {
      timedOut = 'total';
      controller.abort();
    }, Math.max(0, deadline - performance.now()));
    const start = performance.now();
    let ttftMs: number | null = null;
    let text = '';
    const toolCalls: ToolCall[] = [];
    const firstOutput = (): void => {
      if (ttftMs !== null) return;
      ttftMs = Math.round(performance.now() - start);
      clearTimeout(firstTokenTimer);
    };
    const tools = request.tools?.length ? { tools: request.tools } : {};
    try {
      for await (const chunk of provider.streamChat({ model, messages: request.messages, params: request.params, ...tools, signal: controller.signal })) {
        if (chunk.type === 'text') {
          if (!chunk.text) continue;
          firstOutput();
          text += chunk.text;
          request.onText?.(chunk.text);
        } else if (chunk.type === 'tool_call') {
          // a call is output too: the model answered, it did not stall
          firstOutput();
          toolCalls.push(chunk.call);
        } else {
          return { kind: 'ok', text, toolCalls, usage: chunk.usage, stopReason: chunk.stopReason, ttftMs };
        }
      }
      // a stream that ends without its final event was cut short
      throw new ProviderError('malformed', 'the stream ended before the model finished');
    } catch (err) {
      let error = err instanceof ProviderError ? err : new ProviderError('malformed', String(err), { cause: err });
      if (timedOut) {
        error = new ProviderError('timeout', timedOut === 'first_token'
          ? `no first token within ${this.options.firstTokenTimeoutMs} ms`
          : `the answer took longer than ${this.options.totalTimeoutMs} ms`, { cause: err });
      } else if (request.signal?.aborted) {
        error = new ProviderError('aborted', 'stopped by the user', { cause: err });
      }
      return { kind: 'failed', text, error, ttftMs };
    } finally {
      clearTimeout(firstTokenTimer);
      clearTimeout(totalTimer);
      request.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  /**
   * Embeds texts with one model, through the provider's gate (its concurrency and rate limits).
   * No retries or fallbacks: vectors from another model would not be comparable, and the
   * search indexer keeps its own retry schedule. Throws ProviderError.
   */
  async embed(modelId: string, texts: string[], signal?: AbortSignal): Promise<EmbedOutcome> {
    const { provider: providerName, model } = splitModelId(modelId);
    const provider = this.providers.get(providerName);
    if (!provider) throw new ProviderError('unknown_model', `no provider named "${providerName}" is configured (model ${modelId})`);
    let started = performance.now();
    const result = await this.gate(providerName).run(() => {
      started = performance.now();
      return provider.embed(model, texts, signal);
    }, signal);
    return { ...result, modelId, provider: providerName, model, latencyMs: Math.round(performance.now() - started) };
  }

  /** Drops calls still waiting for their provider (they end as aborted); used at shutdown. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const gate of this.gates.values()) gate.stop();
  }
}
