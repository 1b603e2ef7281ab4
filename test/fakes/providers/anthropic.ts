/**
 * Fake Anthropic server: `POST /v1/messages` (SSE with `event:` lines, or JSON) and
 * `GET /v1/models`. Errors use `{type:'error', error:{type, message}}`.
 */
import {
  FakeServerCore,
  argumentsText,
  defaultUsage,
  playPlainBehaviour,
  retryHeaders,
  splitChunks,
  streamAnswer,
  type FakeBehaviour,
  type FakeCall,
  type FakeProviderServer,
  type FakeServerOptions,
  type RouteHandler,
  type WireFormat,
} from './core.js';

export const FAKE_ANTHROPIC_MODELS = ['claude-sonnet-4-6', 'claude-haiku-4-5', 'claude-opus-4-6'];

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

function errorBody(status: number, message?: string, type?: string): unknown {
  return {
    type: 'error',
    error: {
      type: type ?? ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error'),
      message: message ?? (status >= 500 ? 'Internal server error' : `Request failed with status ${status}`),
    },
  };
}

function sendError(call: FakeCall, behaviour: FakeBehaviour): void {
  const headers = { 'request-id': 'req_fake', ...retryHeaders(behaviour) };
  call.json(behaviour.status!, errorBody(behaviour.status!, behaviour.errorMessage, behaviour.errorType), headers);
}

function lastUserText(body: { messages?: Array<{ role: string; content: unknown }> }): string {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user');
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  if (Array.isArray(last.content)) {
    return last.content
      .filter((b: { type?: string }) => b.type === 'text')
      .map((b: { text?: string }) => b.text ?? '')
      .join(' ');
  }
  return '';
}

let sequence = 0;

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** `withText`: the answer opens with a text block at index 0 (an answer of only tool calls has none). */
function wire(model: string, inputTokens: number | null, withText: boolean): WireFormat {
  const id = `msg_fake${++sequence}`;
  let textOpen = withText;
  let calling = false;
  const closeText = (): string => {
    if (!textOpen) return '';
    textOpen = false;
    return event('content_block_stop', { type: 'content_block_stop', index: 0 });
  };
  return {
    contentType: 'text/event-stream; charset=utf-8',
    start: () =>
      event('message_start', {
        type: 'message_start',
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          ...(inputTokens === null
            ? {}
            : {
                usage: {
                  input_tokens: inputTokens,
                  cache_creation_input_tokens: 0,
                  cache_read_input_tokens: 0,
                  output_tokens: 1,
                },
              }),
        },
      }) +
      (withText
        ? event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })
        : '') +
      event('ping', { type: 'ping' }),
    text: (chunk) =>
      event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: chunk } }),
    malformed: () => 'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {\n\n',
    error: (message) => event('error', { type: 'error', error: { type: 'overloaded_error', message } }),
    toolCalls: (calls, size) => {
      calling = true;
      const first = withText ? 1 : 0;
      const frames = calls.flatMap((call, k) => {
        const index = first + k;
        const block = { type: 'tool_use', id: call.id ?? `toolu_fake${++sequence}`, name: call.name, input: {} };
        return [
          event('content_block_start', { type: 'content_block_start', index, content_block: block }),
          ...splitChunks(argumentsText(call), size).map((piece) =>
            event('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } }),
          ),
          event('content_block_stop', { type: 'content_block_stop', index }),
        ];
      });
      frames[0] = closeText() + frames[0];
      return frames;
    },
    end: (stopReason, usage) =>
      closeText() +
      event('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: stopReason ?? (calling ? 'tool_use' : 'end_turn'), stop_sequence: null },
        ...(usage ? { usage: { output_tokens: usage.output } } : {}),
      }) +
      event('message_stop', { type: 'message_stop' }),
  };
}

const messages: RouteHandler = async (call, core) => {
  const body = call.record.body ?? {};
  if (!core.knows(body.model)) {
    return call.json(404, errorBody(404, `model: ${String(body.model)}`), { 'request-id': 'req_fake' });
  }
  const behaviour = core.next('chat') ?? {};
  if (behaviour.status !== undefined) return sendError(call, behaviour);
  const answer = core.answerFor(call.record, behaviour, lastUserText(body));
  const usage = behaviour.usage === undefined ? defaultUsage(call.record, answer) : behaviour.usage;
  if (body.stream) {
    const withText = answer !== '' || !behaviour.toolCalls?.length;
    return streamAnswer(call, wire(body.model, usage ? usage.input : null, withText), behaviour, answer, usage, core.chunkSize);
  }
  if (await playPlainBehaviour(call, behaviour)) return;
  call.json(200, {
    id: `msg_fake${++sequence}`,
    type: 'message',
    role: 'assistant',
    model: body.model,
    content: [{ type: 'text', text: answer }],
    stop_reason: behaviour.stopReason ?? 'end_turn',
    stop_sequence: null,
    usage: usage ? { input_tokens: usage.input, output_tokens: usage.output } : { input_tokens: 0, output_tokens: 0 },
  });
};

const listModels: RouteHandler = async (call, core) => {
  const behaviour = core.next('models') ?? {};
  if (behaviour.status !== undefined) return sendError(call, behaviour);
  if (await playPlainBehaviour(call, behaviour)) return;
  const data = core.models
    .filter((m) => m !== '*')
    .map((id) => ({
      type: 'model',
      id,
      display_name: id,
      created_at: '2025-01-01T00:00:00Z',
      max_input_tokens: 200_000,
      max_tokens: 64_000,
    }));
  call.json(200, { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
};

/** Starts a fake Anthropic server; give `url` (the origin, no `/v1`) to the SDK as baseURL. */
export async function startFakeAnthropic(options: FakeServerOptions = {}): Promise<FakeProviderServer> {
  const core = new FakeServerCore(
    options,
    FAKE_ANTHROPIC_MODELS,
    (method, path) => {
      if (method === 'POST' && path === '/v1/messages') return messages;
      if (method === 'GET' && path === '/v1/models') return listModels;
      return null;
    },
    (call) => call.json(404, errorBody(404, 'Not found')),
  );
  await core.start();
  return core.publicApi('/v1/messages');
}
