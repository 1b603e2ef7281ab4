/**
 * Fake OpenAI-compatible server: `POST /v1/chat/completions` (SSE or JSON), `GET /v1/models`,
 * `GET /v1/models/:id`, `POST /v1/embeddings` (float arrays, or base64 Float32 when asked).
 */
import {
  FakeServerCore,
  argumentsText,
  defaultUsage,
  playPlainBehaviour,
  retryHeaders,
  splitChunks,
  streamAnswer,
  toBase64Float32,
  type FakeBehaviour,
  type FakeCall,
  type FakeProviderServer,
  type FakeServerOptions,
  type FakeToolCall,
  type FakeUsage,
  type RouteHandler,
  type WireFormat,
} from './core.js';

export const FAKE_OPENAI_MODELS = ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small'];

const ERROR_TYPES: Record<number, [type: string, code: string | null]> = {
  400: ['invalid_request_error', null],
  401: ['invalid_request_error', 'invalid_api_key'],
  403: ['invalid_request_error', 'unsupported_country_region_territory'],
  404: ['invalid_request_error', 'model_not_found'],
  429: ['requests', 'rate_limit_exceeded'],
};

function errorBody(status: number, message?: string, type?: string): unknown {
  const [defaultType, code] = ERROR_TYPES[status] ?? [status >= 500 ? 'server_error' : 'invalid_request_error', null];
  return {
    error: {
      message: message ?? (status >= 500 ? 'The server had an error while processing your request.' : `Request failed with status ${status}`),
      type: type ?? defaultType,
      param: null,
      code,
    },
  };
}

function sendError(call: FakeCall, behaviour: FakeBehaviour): void {
  call.json(behaviour.status!, errorBody(behaviour.status!, behaviour.errorMessage, behaviour.errorType), retryHeaders(behaviour));
}

function sendUnknownModel(call: FakeCall, model: unknown): void {
  call.json(
    404,
    errorBody(404, `The model \`${String(model)}\` does not exist or you do not have access to it.`),
  );
}

/** Text of the last user message, whether its content is a string or a list of parts. */
function lastUserText(body: { messages?: Array<{ role: string; content: unknown }> }): string {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user');
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  if (Array.isArray(last.content)) {
    return last.content
      .filter((p: { type?: string }) => p.type === 'text')
      .map((p: { text?: string }) => p.text ?? '')
      .join(' ');
  }
  return '';
}

function usageJson(usage: FakeUsage): unknown {
  return {
    prompt_tokens: usage.input,
    completion_tokens: usage.output,
    total_tokens: usage.input + usage.output,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

let sequence = 0;

/**
 * `delta.tool_calls` fragments: each call's id and name first, then its arguments in pieces, the
 * calls taking turns by index, as a server streaming parallel calls may.
 */
function interleavedToolCalls(calls: FakeToolCall[], size: number): unknown[] {
  const heads = calls.map((call, index) => ({
    index,
    id: call.id ?? `call_fake${++sequence}`,
    type: 'function',
    function: { name: call.name, arguments: '' },
  }));
  const pieces = calls.map((call) => splitChunks(argumentsText(call), size));
  const fragments: unknown[] = [...heads];
  for (let round = 0; pieces.some((p) => round < p.length); round++) {
    pieces.forEach((p, index) => {
      if (round < p.length) fragments.push({ index, function: { arguments: p[round] } });
    });
  }
  return fragments;
}

function wire(model: string, includeUsage: boolean): WireFormat {
  const base = {
    id: `chatcmpl-fake${++sequence}`,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: 'fp_fake',
    ...(includeUsage ? { usage: null } : {}),
  };
  const frame = (value: unknown): string => `data: ${JSON.stringify(value)}\n\n`;
  const choice = (delta: unknown, finish: string | null): unknown => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  let calling = false;
  return {
    contentType: 'text/event-stream; charset=utf-8',
    start: () => frame(choice({ role: 'assistant', content: '', refusal: null }, null)),
    text: (chunk) => frame(choice({ content: chunk }, null)),
    toolCalls: (calls, size) => {
      calling = true;
      return interleavedToolCalls(calls, size).map((fragment) => frame(choice({ tool_calls: [fragment] }, null)));
    },
    malformed: () => 'data: {"id": "chatcmpl-broken", "choices": [{"delta": {"content": "oops"\n\n',
    error: (message) => frame({ error: { message, type: 'server_error', param: null, code: null } }),
    end: (stopReason, usage) =>
      frame(choice({}, stopReason ?? (calling ? 'tool_calls' : 'stop'))) +
      (includeUsage && usage ? frame({ ...base, choices: [], usage: usageJson(usage) }) : '') +
      'data: [DONE]\n\n',
  };
}

const chat: RouteHandler = async (call, core) => {
  const body = call.record.body ?? {};
  if (!core.knows(body.model)) return sendUnknownModel(call, body.model);
  const behaviour = core.next('chat') ?? {};
  if (behaviour.status !== undefined) return sendError(call, behaviour);
  const answer = core.answerFor(call.record, behaviour, lastUserText(body));
  const usage = behaviour.usage === undefined ? defaultUsage(call.record, answer) : behaviour.usage;
  if (body.stream) {
    const includeUsage = body.stream_options?.include_usage === true;
    return streamAnswer(call, wire(body.model, includeUsage), behaviour, answer, usage, core.chunkSize);
  }
  if (await playPlainBehaviour(call, behaviour)) return;
  call.json(200, {
    id: `chatcmpl-fake${++sequence}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    system_fingerprint: 'fp_fake',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: answer, refusal: null },
        logprobs: null,
        finish_reason: behaviour.stopReason ?? 'stop',
      },
    ],
    ...(usage ? { usage: usageJson(usage) } : {}),
  });
};

export interface FakeOpenAIOptions extends FakeServerOptions {
  /** Extra fields for a model's `/v1/models` entry, e.g. vLLM's `{ max_model_len: 32768 }`. */
  modelFields?: Record<string, Record<string, unknown>>;
}

const embeddings: RouteHandler = async (call, core) => {
  const body = call.record.body ?? {};
  if (!core.knows(body.model)) return sendUnknownModel(call, body.model);
  const behaviour = core.next('embed') ?? {};
  if (behaviour.status !== undefined) return sendError(call, behaviour);
  if (await playPlainBehaviour(call, behaviour)) return;
  const inputs: string[] = Array.isArray(body.input) ? body.input.map(String) : [String(body.input ?? '')];
  const dimension = typeof body.dimensions === 'number' ? body.dimensions : core.embeddingDimension;
  const base64 = body.encoding_format === 'base64';
  const tokens = inputs.reduce((sum, text) => sum + Math.max(1, Math.ceil(text.length / 4)), 0);
  call.json(200, {
    object: 'list',
    data: inputs.map((text, index) => {
      const vector = core.embedder(text, dimension);
      return { object: 'embedding', index, embedding: base64 ? toBase64Float32(vector) : vector };
    }),
    model: body.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
};

/** Starts a fake OpenAI-compatible server; give `url` (which ends in `/v1`) to the SDK as baseURL. */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeProviderServer> {
  const modelEntry = (id: string): unknown => ({
    id,
    object: 'model',
    created: 1_700_000_000,
    owned_by: 'fake',
    ...options.modelFields?.[id],
  });
  const listModels: RouteHandler = async (call, core) => {
    const behaviour = core.next('models') ?? {};
    if (behaviour.status !== undefined) return sendError(call, behaviour);
    if (await playPlainBehaviour(call, behaviour)) return;
    call.json(200, { object: 'list', data: core.models.filter((m) => m !== '*').map(modelEntry) });
  };
  const core: FakeServerCore = new FakeServerCore(
    options,
    FAKE_OPENAI_MODELS,
    (method, path) => {
      if (method === 'POST' && path === '/v1/chat/completions') return chat;
      if (method === 'GET' && path === '/v1/models') return listModels;
      if (method === 'POST' && path === '/v1/embeddings') return embeddings;
      if (method === 'GET' && path.startsWith('/v1/models/')) {
        return async (call) => {
          const id = decodeURIComponent(path.slice('/v1/models/'.length));
          if (core.knows(id)) call.json(200, modelEntry(id));
          else sendUnknownModel(call, id);
        };
      }
      return null;
    },
    (call) => call.json(404, errorBody(404, `Invalid URL (${call.record.method} ${call.record.path})`)),
  );
  await core.start();
  return core.publicApi('/v1/chat/completions', '/v1');
}
