import { ThreadloomError } from '../errors.js';

/**
 * Managing the models of one Ollama server: what is installed and loaded, pulling with progress,
 * deleting, loading (warming) and unloading. Plain fetch against Ollama's REST API: the SDK logs
 * unreadable lines to the console and cannot join a caller's abort signal to a pull.
 */

export interface InstalledModel {
  /** `llama3.2:latest` */
  name: string;
  size: number;
  modifiedAt: string | null;
  digest: string;
  family: string | null;
  parameterSize: string | null;
  quantization: string | null;
}

export interface LoadedModel {
  name: string;
  /** bytes in memory, and how many of them on the GPU */
  size: number;
  sizeVram: number;
  /** when Ollama unloads it; null when kept loaded for good */
  expiresAt: Date | null;
  contextLength: number | null;
}

export interface ModelDetails {
  name: string;
  family: string | null;
  parameterSize: string | null;
  quantization: string | null;
  contextLength: number | null;
  capabilities: string[];
  parameters: string;
  template: string;
  license: string;
  /** the `model_info` entries with plain values (numbers, strings, booleans) */
  info: Array<[string, string | number | boolean]>;
}

export interface PullProgress {
  status: string;
  /** the layer being fetched, when the line is about one */
  digest: string | null;
  /** bytes done and due over every layer seen so far */
  completed: number;
  total: number;
  /** 0–100 over the layers seen so far, never less than before; null before any size is known */
  percent: number | null;
  done: boolean;
}

/** Ollama keeps a model loaded "forever" by reporting an expiry centuries away. */
const FOREVER_AFTER = Date.UTC(2200, 0, 1);

const DEFAULT_LOAD_KEEP_ALIVE = '30m';

type Json = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function contextLengthOf(info: unknown): number | null {
  if (!info || typeof info !== 'object') return null;
  const entries = info as Record<string, unknown>;
  const arch = entries['general.architecture'];
  const preferred = typeof arch === 'string' ? entries[`${arch}.context_length`] : undefined;
  if (typeof preferred === 'number') return preferred;
  const any = Object.entries(entries).find(([k, v]) => k.endsWith('.context_length') && typeof v === 'number');
  return any ? (any[1] as number) : null;
}

export class OllamaModels {
  private readonly host: string;

  constructor(
    host: string,
    /** the configured provider name, for messages */
    readonly provider = 'ollama',
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.host = host.replace(/\/+$/, '');
  }

  async list(signal?: AbortSignal): Promise<InstalledModel[]> {
    const body = await this.json('GET', '/api/tags', undefined, signal);
    const models = Array.isArray(body.models) ? (body.models as Json[]) : [];
    return models
      .map((m) => {
        const details = (m.details ?? {}) as Json;
        return {
          name: String(m.name ?? m.model ?? ''),
          size: num(m.size),
          modifiedAt: str(m.modified_at),
          digest: String(m.digest ?? ''),
          family: str(details.family),
          parameterSize: str(details.parameter_size),
          quantization: str(details.quantization_level),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** What is loaded now (`/api/ps`), with memory and expiry. */
  async running(signal?: AbortSignal): Promise<LoadedModel[]> {
    const body = await this.json('GET', '/api/ps', undefined, signal);
    const models = Array.isArray(body.models) ? (body.models as Json[]) : [];
    return models.map((m) => {
      const expires = str(m.expires_at) ? new Date(String(m.expires_at)) : null;
      return {
        name: String(m.name ?? m.model ?? ''),
        size: num(m.size),
        sizeVram: num(m.size_vram),
        expiresAt: expires && !Number.isNaN(expires.getTime()) && expires.getTime() < FOREVER_AFTER ? expires : null,
        contextLength: typeof m.context_length === 'number' ? m.context_length : null,
      };
    });
  }

  async show(model: string, signal?: AbortSignal): Promise<ModelDetails> {
    const body = await this.json('POST', '/api/show', { model }, signal);
    const details = (body.details ?? {}) as Json;
    const info = (body.model_info ?? {}) as Record<string, unknown>;
    const plain = Object.entries(info).filter((e): e is [string, string | number | boolean] => ['string', 'number', 'boolean'].includes(typeof e[1]));
    return {
      name: model,
      family: str(details.family),
      parameterSize: str(details.parameter_size),
      quantization: str(details.quantization_level),
      contextLength: contextLengthOf(info),
      capabilities: Array.isArray(body.capabilities) ? body.capabilities.map(String) : [],
      parameters: typeof body.parameters === 'string' ? body.parameters : '',
      template: typeof body.template === 'string' ? body.template : '',
      license: typeof body.license === 'string' ? body.license : '',
      info: plain.sort((a, b) => a[0].localeCompare(b[0])),
    };
  }

  /**
   * Pulls a model, yielding progress as Ollama reports it; the last item has `done: true`.
   * Throws ThreadloomError when Ollama reports an error (an unknown name, a full disk).
   * Aborting the signal stops the download on the server too (it drops the connection).
   */
  async *pull(model: string, signal?: AbortSignal): AsyncGenerator<PullProgress> {
    const response = await this.request('POST', '/api/pull', { model, stream: true }, signal);
    if (!response.body) throw this.error(`pull ${model}: the reply had no body`);
    const layers = new Map<string, { completed: number; total: number }>();
    let sawSuccess = false;
    let shown: number | null = null;
    for await (const line of ndjsonLines(response.body)) {
      if (typeof line.error === 'string') throw this.error(`pull ${model}: ${line.error}`, 'invalid');
      const status = String(line.status ?? '');
      const digest = str(line.digest);
      if (digest && typeof line.total === 'number') layers.set(digest, { completed: num(line.completed), total: line.total });
      let completed = 0;
      let total = 0;
      for (const layer of layers.values()) {
        completed += layer.completed;
        total += layer.total;
      }
      sawSuccess = status === 'success';
      // a layer announced later adds to the total; the bar holds still rather than going back
      if (total > 0) shown = Math.max(shown ?? 0, Math.min(100, (completed / total) * 100));
      const percent = sawSuccess ? 100 : shown;
      yield { status, digest, completed, total, percent, done: sawSuccess };
      if (sawSuccess) return;
    }
    throw this.error(`pull ${model}: the stream ended before Ollama said success`);
  }

  async delete(model: string, signal?: AbortSignal): Promise<void> {
    await this.request('DELETE', '/api/delete', { model, name: model }, signal);
  }

  /** Loads a model into memory now, so the next chat starts without the load time. */
  async load(model: string, keepAlive: string | number = DEFAULT_LOAD_KEEP_ALIVE, signal?: AbortSignal): Promise<void> {
    await this.json('POST', '/api/generate', { model, prompt: '', keep_alive: keepAlive, stream: false }, signal);
  }

  /** Frees a model's memory now (`keep_alive: 0`). */
  async unload(model: string, signal?: AbortSignal): Promise<void> {
    await this.json('POST', '/api/generate', { model, prompt: '', keep_alive: 0, stream: false }, signal);
  }

  private async json(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<Json> {
    const response = await this.request(method, path, body, signal);
    const text = await response.text();
    if (text.trim() === '') return {};
    try {
      const parsed: unknown = JSON.parse(text);
      return parsed && typeof parsed === 'object' ? (parsed as Json) : {};
    } catch {
      throw this.error(`${path}: the reply was not JSON`);
    }
  }

  private async request(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.host}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw new ThreadloomError('aborted', `${this.provider}: ${path} stopped`, { cause: err });
      throw this.error(`${path}: ${this.host} could not be reached (${err instanceof Error ? err.message : String(err)})`);
    }
    if (response.ok) return response;
    const text = (await response.text().catch(() => '')).trim();
    let message = text.slice(0, 300) || `HTTP ${response.status}`;
    try {
      const parsed = JSON.parse(text) as { error?: unknown };
      if (typeof parsed.error === 'string') message = parsed.error;
    } catch {
      // not JSON: the text itself
    }
    throw this.error(`${path}: ${message}`, response.status === 404 ? 'not_found' : response.status < 500 ? 'invalid' : 'provider');
  }

  private error(message: string, code: 'provider' | 'not_found' | 'invalid' = 'provider'): ThreadloomError {
    return new ThreadloomError(code, `${this.provider}: ${message}`);
  }
}

/** The JSON objects of an NDJSON body, one per line; a line that is not JSON is an error. */
async function* ndjsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<Json> {
  const decoder = new TextDecoder();
  let pending = '';
  const parse = (line: string): Json => {
    try {
      return JSON.parse(line) as Json;
    } catch {
      throw new ThreadloomError('provider', `unreadable progress line: ${line.slice(0, 120)}`);
    }
  };
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      pending += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const lines = pending.split('\n');
      pending = done ? '' : (lines.pop() ?? '');
      for (const line of lines) if (line.trim() !== '') yield parse(line);
      if (done) return;
    }
  } finally {
    // a consumer that stops early (or an error) cancels the download
    await reader.cancel().catch(() => {});
  }
}

/** One manager per configured Ollama provider, by provider name. */
export function ollamaServers(providers: Record<string, { kind: string; host?: string }>): Map<string, OllamaModels> {
  const servers = new Map<string, OllamaModels>();
  for (const [name, entry] of Object.entries(providers)) {
    if (entry.kind === 'ollama' && entry.host) servers.set(name, new OllamaModels(entry.host, name));
  }
  return servers;
}

export interface PullJob {
  provider: string;
  model: string;
  /** the latest progress; null before the first line */
  progress: PullProgress | null;
  /** set when the pull failed */
  error: string | null;
  finished: boolean;
  /** called on every progress line and once at the end; returns the function that unsubscribes */
  subscribe(listener: (job: PullJob) => void): () => void;
  /** resolves when the pull has ended, either way */
  readonly done: Promise<void>;
}

/**
 * Pulls that run in the background, one per provider and model: the page that started one can
 * go away and a later page can follow it again. A finished job stays listed until the next pull
 * of the same model (or `forget`).
 */
export class PullJobs {
  private readonly jobs = new Map<string, PullJob>();
  private readonly stopping = new AbortController();

  /** Starts pulling, or returns the pull of the same model already running. */
  start(server: OllamaModels, model: string): PullJob {
    const key = `${server.provider}/${model}`;
    const running = this.jobs.get(key);
    if (running && !running.finished) return running;
    const listeners = new Set<(job: PullJob) => void>();
    let finish!: () => void;
    const job: PullJob = {
      provider: server.provider,
      model,
      progress: null,
      error: null,
      finished: false,
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      done: new Promise<void>((resolve) => (finish = resolve)),
    };
    const tell = (): void => {
      for (const listener of [...listeners]) {
        try {
          listener(job);
        } catch {
          // one broken listener (a closed page) must not stop the pull
        }
      }
    };
    this.jobs.set(key, job);
    void (async () => {
      try {
        for await (const progress of server.pull(model, this.stopping.signal)) {
          job.progress = progress;
          tell();
        }
      } catch (err) {
        job.error = err instanceof ThreadloomError ? err.userMessage : err instanceof Error ? err.message : String(err);
      }
      job.finished = true;
      tell();
      finish();
    })();
    return job;
  }

  get(provider: string, model: string): PullJob | undefined {
    return this.jobs.get(`${provider}/${model}`);
  }

  /** Pulls running now, and finished ones not yet forgotten. */
  list(): PullJob[] {
    return [...this.jobs.values()];
  }

  forget(provider: string, model: string): void {
    const job = this.jobs.get(`${provider}/${model}`);
    if (job?.finished) this.jobs.delete(`${provider}/${model}`);
  }

  /** Stops every pull still running (at shutdown); resolves when they have ended. */
  async stopAll(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.list().map((job) => job.done));
  }
}
