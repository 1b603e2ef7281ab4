/**
 * Fake Ollama server: `POST /api/chat` (NDJSON, or one JSON object with `stream: false`),
 * `GET /api/tags`, `POST /api/show`, `POST /api/embed`, `GET /api/version`, and model management
 * (`POST /api/pull`, `DELETE /api/delete`, `GET /api/ps`, `POST /api/generate`; ollama-manage.ts).
 * Chat and generate load their model for `keep_alive` (default 5m); `keep_alive: 0` unloads it,
 * and a request with no messages (or an empty prompt) only loads or unloads.
 * Errors are `{error: "..."}` with the status.
 */
import {
  FakeServerCore,
  defaultUsage,
  playPlainBehaviour,
  retryHeaders,
  streamAnswer,
  type FakeBehaviour,
  type FakeCall,
  type FakeProviderServer,
  type FakeServerOptions,
  type FakeToolCall,
  type RouteHandler,
  type WireFormat,
} from './core.js';
import {
  FAKE_OLLAMA_MODEL_SIZE,
  FakeOllamaState,
  deleteHandler,
  generateHandler,
  loadReply,
  psHandler,
  pullHandler,
  type FakeLoadedModel,
  type FakeOllamaManageOptions,
} from './ollama-manage.js';

export { FAKE_OLLAMA_LIBRARY, keepAliveMs, type FakeLoadedModel } from './ollama-manage.js';

export const FAKE_OLLAMA_MODELS = ['llama3.2:latest', 'llava:latest', 'nomic-embed-text:latest'];

/** What `/api/show` reports for a model. */
export interface FakeOllamaModelInfo {
  /** `<architecture>.context_length` (default 131072) */
  contextLength?: number;
  /** default: `['embedding']` for names containing "embed", `['completion','vision']` for llava/vision, else `['completion','tools']` */
  capabilities?: string[];
  /** `general.architecture` (default 'llama') */
  architecture?: string;
}

export interface FakeOllamaOptions extends FakeServerOptions, FakeOllamaManageOptions {
  /** per model name (with or without the `:latest` tag) */
  modelInfo?: Record<string, FakeOllamaModelInfo>;
}

/** The fake Ollama: the common fake API plus what model management needs to look at. */
export interface FakeOllamaServer extends FakeProviderServer {
  /** models loaded now (as `/api/ps` would list them) */
  loaded(): FakeLoadedModel[];
  /** names `/api/pull` can fetch; mutable */
  library: string[];
  /** how a pull reports: progress lines per layer and the pause between them */
  setPullPace(steps: number, delayMs: number): void;
}

/** `llama3.2` and `llama3.2:latest` name the same model. */
const normalise = (name: string): string => (name.includes(':') ? name : `${name}:latest`);

function defaultCapabilities(name: string): string[] {
  if (/embed/i.test(name)) return ['embedding'];
  if (/llava|vision/i.test(name)) return ['completion', 'vision'];
  return ['completion', 'tools'];
}

function sendError(call: FakeCall, behaviour: FakeBehaviour): void {
  const status = behaviour.status!;
  const message = behaviour.errorMessage ?? (status >= 500 ? 'llama runner process has terminated' : `request failed with status ${status}`);
  call.json(status, { error: message }, retryHeaders(behaviour));
}

function sendUnknownModel(call: FakeCall, model: unknown): void {
  call.json(404, { error: `model "${String(model)}" not found, try pulling it first` });
}

function lastUserText(body: { messages?: Array<{ role: string; content?: string }> }): string {
  return [...(body.messages ?? [])].reverse().find((m) => m.role === 'user')?.content ?? '';
}

const NS_PER_MS = 1_000_000;

/** A scripted string that is not JSON is sent as-is, as a broken server might. */
function argumentsObject(call: FakeToolCall): unknown {
  if (typeof call.arguments !== 'string') return call.arguments;
  try {
    return JSON.parse(call.arguments);
  } catch {
    return call.arguments;
  }
}

function wire(model: string): WireFormat {
  const line = (value: unknown): string => `${JSON.stringify(value)}\n`;
  const createdAt = (): string => new Date().toISOString();
  return {
    contentType: 'application/x-ndjson',
    start: () => '',
    text: (chunk) =>
      line({ model, created_at: createdAt(), message: { role: 'assistant', content: chunk }, done: false }),
    // Ollama parses the calls itself and sends each whole, with arguments as an object and no id.
    toolCalls: (calls) =>
      calls.map((call) =>
        line({
          model,
          created_at: createdAt(),
          message: { role: 'assistant', content: '', tool_calls: [{ function: { name: call.name, arguments: argumentsObject(call) } }] },
          done: false,
        }),
      ),
    malformed: () => `{"model": "${model}", "message": {"role": "assistant", "content": \n`,
    error: (message) => line({ error: message }),
    end: (stopReason, usage) =>
      line({
        model,
        created_at: createdAt(),
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: stopReason ?? 'stop',
        total_duration: 120 * NS_PER_MS,
        load_duration: 5 * NS_PER_MS,
        ...(usage
          ? {
              prompt_eval_count: usage.input,
              prompt_eval_duration: 10 * NS_PER_MS,
              eval_count: usage.output,
              eval_duration: 100 * NS_PER_MS,
            }
          : {}),
      }),
  };
}

const chatWith = (state: FakeOllamaState): RouteHandler => async (call, core) => {
  const body = call.record.body ?? {};
  if (!core.knows(body.model, normalise)) return sendUnknownModel(call, body.model);
  if (Array.isArray(body.messages) && body.messages.length === 0) {
    return loadReply(call, body.model, state.touch(body.model, body.keep_alive), 'chat', body.stream !== false);
  }
  const behaviour = core.next('chat') ?? {};
  if (behaviour.status !== undefined) return sendError(call, behaviour);
  state.touch(body.model, body.keep_alive);
  const answer = core.answerFor(call.record, behaviour, lastUserText(body));
  const usage = behaviour.usage === undefined ? defaultUsage(call.record, answer) : behaviour.usage;
  // Ollama streams unless told `stream: false`
  if (body.stream !== false) return streamAnswer(call, wire(body.model), behaviour, answer, usage, core.chunkSize);
  if (await playPlainBehaviour(call, behaviour)) return;
  const end = JSON.parse(wire(body.model).end(behaviour.stopReason, usage));
  call.json(200, { ...end, message: { role: 'assistant', content: answer } });
};

export async function startFakeOllama(options: FakeOllamaOptions = {}): Promise<FakeOllamaServer> {
  const state = new FakeOllamaState(options);
  const infoFor = (name: string): FakeOllamaModelInfo => {
    const info = options.modelInfo ?? {};
    return info[name] ?? info[normalise(name)] ?? info[name.replace(/:latest$/, '')] ?? {};
  };

  const tags: RouteHandler = async (call, core) => {
    const behaviour = core.next('models') ?? {};
    if (behaviour.status !== undefined) return sendError(call, behaviour);
    if (await playPlainBehaviour(call, behaviour)) return;
    const models = core.models
      .filter((m) => m !== '*')
      .map((name) => ({
        name: normalise(name),
        model: normalise(name),
        modified_at: '2025-01-01T00:00:00Z',
        size: FAKE_OLLAMA_MODEL_SIZE,
        digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
        details: {
          parent_model: '',
          format: 'gguf',
          family: infoFor(name).architecture ?? 'llama',
          families: [infoFor(name).architecture ?? 'llama'],
          parameter_size: '3.2B',
          quantization_level: 'Q4_K_M',
        },
      }));
    call.json(200, { models });
  };

  const show: RouteHandler = async (call, core) => {
    const body = call.record.body ?? {};
    const model = body.model ?? body.name;
    const behaviour = core.next('show') ?? {};
    if (behaviour.status !== undefined) return sendError(call, behaviour);
    if (await playPlainBehaviour(call, behaviour)) return;
    if (!core.knows(model, normalise)) return call.json(404, { error: `model '${String(model)}' not found` });
    const info = infoFor(model);
    const arch = info.architecture ?? 'llama';
    call.json(200, {
      modelfile: `FROM ${model}\n`,
      parameters: 'stop "<|eot_id|>"',
      template: '{{ .Prompt }}',
      details: { parent_model: '', format: 'gguf', family: arch, families: [arch], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
      model_info: {
        'general.architecture': arch,
        'general.parameter_count': 3_212_749_888,
        [`${arch}.context_length`]: info.contextLength ?? 131_072,
        [`${arch}.embedding_length`]: 3072,
      },
      capabilities: info.capabilities ?? defaultCapabilities(model),
      modified_at: '2025-01-01T00:00:00Z',
    });
  };

  const embed: RouteHandler = async (call, core) => {
    const body = call.record.body ?? {};
    if (!core.knows(body.model, normalise)) return sendUnknownModel(call, body.model);
    const behaviour = core.next('embed') ?? {};
    if (behaviour.status !== undefined) return sendError(call, behaviour);
    if (await playPlainBehaviour(call, behaviour)) return;
    const inputs: string[] = Array.isArray(body.input) ? body.input.map(String) : [String(body.input ?? '')];
    const dimension = typeof body.dimensions === 'number' ? body.dimensions : core.embeddingDimension;
    call.json(200, {
      model: body.model,
      embeddings: inputs.map((text) => core.embedder(text, dimension)),
      total_duration: 14 * NS_PER_MS,
      load_duration: 1 * NS_PER_MS,
      prompt_eval_count: inputs.reduce((sum, text) => sum + Math.max(1, Math.ceil(text.length / 4)), 0),
    });
  };

  const chat = chatWith(state);
  const generate = generateHandler(state, sendUnknownModel);
  const pull = pullHandler(state);
  const remove = deleteHandler(state);
  const ps = psHandler(state, (name) => infoFor(name).architecture ?? 'llama');

  const core = new FakeServerCore(
    options,
    FAKE_OLLAMA_MODELS,
    (method, path) => {
      if (method === 'POST' && path === '/api/chat') return chat;
      if (method === 'POST' && path === '/api/generate') return generate;
      if (method === 'POST' && path === '/api/pull') return pull;
      if (method === 'DELETE' && path === '/api/delete') return remove;
      if (method === 'GET' && path === '/api/ps') return ps;
      if (method === 'GET' && path === '/api/tags') return tags;
      if (method === 'POST' && path === '/api/show') return show;
      if (method === 'POST' && path === '/api/embed') return embed;
      if (method === 'GET' && path === '/api/version') return async (call) => call.json(200, { version: '0.12.0' });
      return null;
    },
    (call) => {
      call.res.writeHead(404, { 'content-type': 'text/plain' });
      call.res.end('404 page not found');
    },
  );
  await core.start();
  const api = core.publicApi('/api/chat');
  return Object.defineProperties(api, {
    loaded: { value: () => state.running() },
    setPullPace: {
      value: (steps: number, delayMs: number) => {
        state.pullSteps = Math.max(1, steps);
        state.pullDelayMs = delayMs;
      },
    },
    library: {
      get: () => state.library,
      set: (value: string[]) => {
        state.library = value;
      },
    },
  }) as FakeOllamaServer;
}
