/**
 * The model-management side of the fake Ollama: `POST /api/pull` (NDJSON progress),
 * `DELETE /api/delete`, `GET /api/ps`, `POST /api/generate`, and the keep_alive bookkeeping that
 * `/api/chat` and `/api/generate` share (a request loads its model; `keep_alive: 0` unloads it).
 */
import { createHash } from 'node:crypto';
import { playPlainBehaviour, retryHeaders, streamAnswer, type FakeCall, type FakeServerCore, type RouteHandler, type WireFormat } from './core.js';
import type { FakeBehaviour } from './types.js';

/** Models `/api/pull` can fetch by default (a name outside this list gets Ollama's own error line). */
export const FAKE_OLLAMA_LIBRARY = ['llama3.2', 'llava', 'nomic-embed-text', 'qwen2.5:0.5b', 'tinyllama', 'smollm2:135m', 'mistral'];

/** Bytes the fake says a loaded model takes, and that `/api/tags` reports. */
export const FAKE_OLLAMA_MODEL_SIZE = 2_019_393_189;

const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;

export interface FakeOllamaManageOptions {
  /** names `/api/pull` knows (with or without a tag); `'*'` accepts any. Default FAKE_OLLAMA_LIBRARY */
  library?: string[];
  /** progress lines per layer (default 8) */
  pullSteps?: number;
  /** pause between progress lines, in ms (default 0) */
  pullDelayMs?: number;
}

export interface FakeLoadedModel {
  name: string;
  /** null: kept loaded until told otherwise (a negative keep_alive) */
  expiresAt: Date | null;
}

const normalise = (name: string): string => (name.includes(':') ? name : `${name}:latest`);
const digestOf = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * Go-style durations as Ollama reads keep_alive: a number is seconds, a string like "5m", "1h30m",
 * "90s" or "0"; negative means "forever". Returns ms, or null for forever.
 */
export function keepAliveMs(value: unknown): number | null {
  if (value === undefined || value === null || value === '') return DEFAULT_KEEP_ALIVE_MS;
  if (typeof value === 'number') return value < 0 ? null : value * 1000;
  const text = String(value).trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text) < 0 ? null : Number(text) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const negative = text.startsWith('-');
  let total = 0;
  for (const [, amount, unit] of text.replace(/^-/, '').matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(amount) * units[unit!]!;
  return negative ? null : total;
}

/** What the fake remembers between requests: which models are loaded and until when. */
export class FakeOllamaState {
  readonly loaded = new Map<string, FakeLoadedModel>();
  library: string[];
  pullSteps: number;
  pullDelayMs: number;

  constructor(options: FakeOllamaManageOptions) {
    this.library = options.library ? [...options.library] : [...FAKE_OLLAMA_LIBRARY];
    this.pullSteps = Math.max(1, options.pullSteps ?? 8);
    this.pullDelayMs = options.pullDelayMs ?? 0;
  }

  /** A request for `model` with this keep_alive: load it (or unload it for 0). */
  touch(model: string, keepAlive: unknown): 'load' | 'unload' {
    const name = normalise(model);
    const ms = keepAliveMs(keepAlive);
    if (ms === 0) {
      this.loaded.delete(name);
      return 'unload';
    }
    this.loaded.set(name, { name, expiresAt: ms === null ? null : new Date(Date.now() + ms) });
    return 'load';
  }

  /** Loaded models whose keep_alive has not run out. */
  running(): FakeLoadedModel[] {
    const now = Date.now();
    for (const [name, entry] of this.loaded) if (entry.expiresAt && entry.expiresAt.getTime() <= now) this.loaded.delete(name);
    return [...this.loaded.values()];
  }

  inLibrary(model: string): boolean {
    return this.library.includes('*') || this.library.some((m) => normalise(m) === normalise(model));
  }
}

function sendBehaviourError(call: FakeCall, behaviour: FakeBehaviour): void {
  call.json(behaviour.status!, { error: behaviour.errorMessage ?? 'the fake Ollama failed' }, retryHeaders(behaviour));
}

const line = (value: unknown): string => `${JSON.stringify(value)}\n`;

export function pullHandler(state: FakeOllamaState): RouteHandler {
  return async (call, core) => {
    const body = call.record.body ?? {};
    const model = String(body.model ?? body.name ?? '');
    const behaviour = core.next('pull') ?? {};
    if (behaviour.status !== undefined) return sendBehaviourError(call, behaviour);
    if (await playPlainBehaviour(call, behaviour)) return;
    const known = model !== '' && state.inLibrary(model);
    const finish = (): void => {
      if (!core.knows(model, normalise)) core.models.push(normalise(model));
    };
    if (body.stream === false) {
      if (!known) return call.json(500, { error: 'pull model manifest: file does not exist' });
      finish();
      return call.json(200, { status: 'success' });
    }
    call.startStream('application/x-ndjson');
    if (!(await call.write(line({ status: 'pulling manifest' })))) return;
    if (!known) {
      await call.write(line({ error: 'pull model manifest: file does not exist' }));
      call.res.end();
      return;
    }
    // a big weights layer, then a small params layer, like a real manifest
    const layers = [
      { digest: `sha256:${digestOf(`${model} weights`)}`, total: 1_000_000 + model.length * 1000 },
      { digest: `sha256:${digestOf(`${model} params`)}`, total: 96 },
    ];
    for (const layer of layers) {
      const status = `pulling ${layer.digest.slice(7, 19)}`;
      for (let step = 0; step <= state.pullSteps; step++) {
        if (step > 0 && state.pullDelayMs > 0 && !(await call.sleep(state.pullDelayMs))) return;
        const completed = Math.round((layer.total * step) / state.pullSteps);
        if (!(await call.write(line({ status, digest: layer.digest, total: layer.total, completed })))) return;
      }
    }
    for (const status of ['verifying sha256 digest', 'writing manifest']) {
      if (!(await call.write(line({ status })))) return;
    }
    finish();
    if (await call.write(line({ status: 'success' }))) call.res.end();
  };
}

export function deleteHandler(state: FakeOllamaState): RouteHandler {
  return async (call, core) => {
    const body = call.record.body ?? {};
    const model = String(body.model ?? body.name ?? '');
    const behaviour = core.next('delete') ?? {};
    if (behaviour.status !== undefined) return sendBehaviourError(call, behaviour);
    if (!core.knows(model, normalise)) return call.json(404, { error: `model '${model}' not found` });
    core.models = core.models.filter((m) => normalise(m) !== normalise(model));
    state.loaded.delete(normalise(model));
    call.res.writeHead(200, { 'content-length': 0 });
    call.res.end();
  };
}

export function psHandler(state: FakeOllamaState, familyOf: (name: string) => string): RouteHandler {
  return async (call, core) => {
    const behaviour = core.next('ps') ?? {};
    if (behaviour.status !== undefined) return sendBehaviourError(call, behaviour);
    if (await playPlainBehaviour(call, behaviour)) return;
    const models = state.running().map((entry) => ({
      name: entry.name,
      model: entry.name,
      size: FAKE_OLLAMA_MODEL_SIZE,
      digest: digestOf(entry.name),
      details: { parent_model: '', format: 'gguf', family: familyOf(entry.name), families: [familyOf(entry.name)], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
      // Ollama says "forever" with a date far in the future
      expires_at: (entry.expiresAt ?? new Date('2318-01-01T00:00:00Z')).toISOString(),
      size_vram: FAKE_OLLAMA_MODEL_SIZE,
      context_length: 4096,
    }));
    call.json(200, { models });
  };
}

function generateWire(model: string): WireFormat {
  const createdAt = (): string => new Date().toISOString();
  return {
    contentType: 'application/x-ndjson',
    start: () => '',
    text: (chunk) => line({ model, created_at: createdAt(), response: chunk, done: false }),
    malformed: () => `{"model": "${model}", "response": \n`,
    error: (message) => line({ error: message }),
    end: (stopReason, usage) =>
      line({
        model,
        created_at: createdAt(),
        response: '',
        done: true,
        done_reason: stopReason ?? 'stop',
        total_duration: 120_000_000,
        ...(usage ? { prompt_eval_count: usage.input, eval_count: usage.output, eval_duration: 100_000_000 } : {}),
      }),
  };
}

/** The one-line answer Ollama gives a request that only loads or unloads its model. */
export function loadReply(call: FakeCall, model: string, reason: 'load' | 'unload', kind: 'chat' | 'generate', stream: boolean): void {
  const reply = {
    model,
    created_at: new Date().toISOString(),
    ...(kind === 'chat' ? { message: { role: 'assistant', content: '' } } : { response: '' }),
    done: true,
    done_reason: reason,
  };
  if (!stream) return call.json(200, reply);
  call.startStream('application/x-ndjson');
  call.res.end(line(reply));
}

export function generateHandler(state: FakeOllamaState, sendUnknownModel: (call: FakeCall, model: unknown) => void): RouteHandler {
  return async (call, core: FakeServerCore) => {
    const body = call.record.body ?? {};
    if (!core.knows(body.model, normalise)) return sendUnknownModel(call, body.model);
    const prompt = typeof body.prompt === 'string' ? body.prompt : '';
    const stream = body.stream !== false;
    if (prompt === '') return loadReply(call, body.model, state.touch(body.model, body.keep_alive), 'generate', stream);
    const behaviour = core.next('generate') ?? {};
    if (behaviour.status !== undefined) return sendBehaviourError(call, behaviour);
    state.touch(body.model, body.keep_alive);
    const answer = core.answerFor(call.record, behaviour, prompt);
    const usage = behaviour.usage === undefined ? { input: Math.max(1, Math.ceil(prompt.length / 4)), output: Math.max(1, Math.ceil(answer.length / 4)) } : behaviour.usage;
    if (stream) return streamAnswer(call, generateWire(body.model), behaviour, answer, usage, core.chunkSize);
    const end = JSON.parse(generateWire(body.model).end(behaviour.stopReason, usage));
    call.json(200, { ...end, response: answer });
  };
}
