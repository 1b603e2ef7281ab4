import { randomBytes } from 'node:crypto';
// The browser build is the same client without the Node build's habit of treating every image
// string as a possible file path (it calls fs.existsSync on each one before sending it).
import {
  Ollama,
  type AbortableAsyncIterator,
  type ChatRequest as OllamaChatRequest,
  type ChatResponse,
  type Message as OllamaMessage,
  type Options,
  type Tool as OllamaTool,
  type ToolCall as OllamaToolCall,
} from 'ollama/browser';
import { ProviderError } from '../errors.js';
import {
  abortedError,
  classifyOther,
  failureForMessage,
  httpError,
  parseRetryAfter,
  throwIfAborted,
  truncatedError,
} from './classify.js';
import { toolArgumentsObject, toolResultText } from './tool-history.js';
import type { ChatChunk, ChatMessage, ChatRequest, ChatWindow, EmbedResult, ModelInfo, Provider, ToolCall, ToolSpec } from './types.js';

export interface OllamaProviderOptions {
  name: string;
  /** e.g. http://127.0.0.1:11434 */
  host: string;
  /** keep_alive sent with every chat turn, as configured */
  keepAlive?: string | number | undefined;
}

/** Raised by our NDJSON check when a line of the /api/chat stream is not JSON. */
class MalformedLineError extends Error {
  constructor(line: string) {
    super(`not JSON: ${line.length > 120 ? `${line.slice(0, 120)}…` : line}`);
    this.name = 'MalformedLineError';
  }
}

/**
 * Passes the bytes through unchanged but fails the stream on a line that is not JSON. The ollama
 * package only logs such lines (console.warn) and skips them, which would hide a broken reply.
 */
function ndjsonGuard(): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let pending = '';
  const check = (line: string): void => {
    if (line.trim() === '') return;
    try {
      JSON.parse(line);
    } catch {
      throw new MalformedLineError(line);
    }
  };
  return new TransformStream({
    transform(chunk, controller) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(check);
      controller.enqueue(chunk);
    },
    flush() {
      pending += decoder.decode();
      check(pending);
    },
  });
}

const SHOW_CONCURRENCY = 4;

interface CallState {
  retryAfterMs: number | null;
}

/** Ollama pairs a result with its call by the tool's name, and takes arguments as an object. */
export function toOllamaMessages(messages: ChatMessage[]): OllamaMessage[] {
  return messages.map((m) => {
    if (m.role === 'tool') {
      const out: OllamaMessage = { role: 'tool', content: toolResultText(m) };
      if (m.toolName) out.tool_name = m.toolName;
      return out;
    }
    const out: OllamaMessage = { role: m.role, content: m.content };
    if (m.images && m.images.length > 0) out.images = m.images.map((i) => i.data);
    if (m.role === 'assistant' && m.toolCalls?.length) {
      out.tool_calls = m.toolCalls.map((call) => ({
        function: { name: call.name, arguments: toolArgumentsObject(call.arguments) },
      }));
    }
    return out;
  });
}

function toOllamaTools(tools: ToolSpec[]): OllamaTool[] {
  return tools.map((tool) => ({
    type: 'function',
    function: { name: tool.name, description: tool.description, parameters: tool.inputSchema as OllamaTool['function']['parameters'] },
  }));
}

/**
 * Ollama sends whole calls, arguments parsed, without ids. Ids made here must be unique in the
 * whole conversation, not only the answer: the history may later go to Anthropic, which refuses
 * two tool_use blocks with one id.
 */
function toolCallOf(raw: OllamaToolCall, n: number): ToolCall {
  const args: unknown = raw.function?.arguments;
  return {
    id: `call_${n}_${randomBytes(6).toString('hex')}`,
    name: raw.function?.name ?? '',
    arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}),
  };
}

function contextLengthOf(modelInfo: unknown): number | null {
  if (!modelInfo || typeof modelInfo !== 'object') return null;
  const info = modelInfo as Record<string, unknown>;
  const arch = info['general.architecture'];
  const preferred = typeof arch === 'string' ? info[`${arch}.context_length`] : undefined;
  if (typeof preferred === 'number' && preferred > 0) return preferred;
  for (const [key, value] of Object.entries(info)) {
    if (key.endsWith('.context_length') && typeof value === 'number' && value > 0) return value;
  }
  return null;
}

export function createOllamaProvider(options: OllamaProviderOptions): Provider {
  const { name, host } = options;
  const cache = new Map<string, ModelInfo>();

  /**
   * A client for one call. Its fetch joins the caller's signal to the package's own (so an abort
   * also stops a request whose headers have not arrived yet), notes retry-after, and guards streams.
   */
  function clientFor(signal: AbortSignal | undefined, state: CallState, guardStream = false): Ollama {
    const guardedFetch: typeof fetch = async (input, init) => {
      const signals = [init?.signal, signal].filter((s): s is AbortSignal => s instanceof AbortSignal);
      const joined = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
      const response = await fetch(input, { ...init, signal: joined });
      if (!response.ok) {
        state.retryAfterMs = parseRetryAfter(response.headers);
        // The package console.logs while reading a non-JSON error body (a proxy's HTML page, say).
        if (!response.headers.get('content-type')?.includes('application/json')) {
          const text = (await response.text().catch(() => '')).trim().slice(0, 300);
          return new Response(JSON.stringify({ error: text || `HTTP ${response.status}` }), {
            status: response.status,
            statusText: response.statusText,
            headers: { 'content-type': 'application/json' },
          });
        }
        return response;
      }
      if (!guardStream || !response.body) return response;
      return new Response(response.body.pipeThrough(ndjsonGuard()), {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    };
    return new Ollama({ host, fetch: guardedFetch });
  }

  function toError(err: unknown, signal: AbortSignal | undefined, state: CallState): ProviderError {
    if (err instanceof ProviderError) return err;
    if (signal?.aborted) return abortedError(name, err);
    if (err instanceof MalformedLineError) {
      return new ProviderError('malformed', `${name}: unreadable reply: ${err.message}`, { cause: err });
    }
    const e = err as { name?: unknown; status_code?: unknown; error?: unknown; message?: unknown };
    if (e && e.name === 'ResponseError' && typeof e.status_code === 'number') {
      const message = typeof e.error === 'string' ? e.error : String(e.message);
      const headers = state.retryAfterMs === null ? null : { 'retry-after-ms': String(state.retryAfterMs) };
      return httpError(name, { status: e.status_code, message, headers }, err);
    }
    if (err instanceof Error && err.message === 'Did not receive done or success response in stream.') {
      return truncatedError(name);
    }
    const classified = classifyOther(name, err, signal);
    // `{"error": "..."}` sent as a line of the stream arrives as a plain Error
    if (classified.failure === 'server' && err instanceof Error && err.constructor === Error) {
      return new ProviderError(failureForMessage(err.message), `${name}: ${err.message}`, { cause: err });
    }
    return classified;
  }

  async function* streamChat(request: ChatRequest): AsyncGenerator<ChatChunk> {
    const { signal, params } = request;
    throwIfAborted(name, signal);
    const state: CallState = { retryAfterMs: null };
    const opts: Partial<Options> = {};
    if (params.temperature !== undefined) opts.temperature = params.temperature;
    if (params.topP !== undefined) opts.top_p = params.topP;
    if (params.contextLength !== undefined) opts.num_ctx = params.contextLength;
    if (params.maxTokens !== undefined) opts.num_predict = params.maxTokens;
    const body: OllamaChatRequest & { stream: true } = {
      model: request.model,
      messages: toOllamaMessages(request.messages),
      stream: true,
      options: opts,
    };
    if (params.keepAlive !== undefined) body.keep_alive = params.keepAlive;
    if (request.tools?.length) body.tools = toOllamaTools(request.tools);

    const onAbort = (): void => iterator?.abort();
    let iterator: AbortableAsyncIterator<ChatResponse> | undefined;
    let calls = 0;
    try {
      signal?.addEventListener('abort', onAbort, { once: true });
      iterator = await clientFor(signal, state, true).chat(body);
      throwIfAborted(name, signal);
      for await (const part of iterator) {
        const text = part.message?.content;
        if (text) yield { type: 'text', text };
        for (const raw of part.message?.tool_calls ?? []) yield { type: 'tool_call', call: toolCallOf(raw, ++calls) };
        if (part.done) {
          const hasUsage = typeof part.prompt_eval_count === 'number' || typeof part.eval_count === 'number';
          const usage = hasUsage
            ? { inputTokens: part.prompt_eval_count ?? 0, outputTokens: part.eval_count ?? 0 }
            : null;
          yield { type: 'done', usage, stopReason: part.done_reason || null };
          return;
        }
      }
    } catch (err) {
      throw toError(err, signal, state);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // stop the HTTP stream if the consumer left early
      iterator?.abort();
    }
    throw truncatedError(name);
  }

  async function show(model: string, signal?: AbortSignal): Promise<ModelInfo> {
    const state: CallState = { retryAfterMs: null };
    try {
      const info = await clientFor(signal, state).show({ model });
      const caps = Array.isArray(info.capabilities) ? info.capabilities : [];
      const families = info.details?.families ?? [];
      const result: ModelInfo = {
        name: model,
        contextLength: contextLengthOf(info.model_info),
        // older servers have no capabilities list; a CLIP projector family means vision
        vision: caps.includes('vision') || (caps.length === 0 && families.some((f) => f === 'clip' || f === 'mllama')),
        tools: caps.includes('tools'),
      };
      cache.set(model, result);
      return result;
    } catch (err) {
      throw toError(err, signal, state);
    }
  }

  async function capabilities(model: string, signal?: AbortSignal): Promise<ModelInfo> {
    throwIfAborted(name, signal);
    const cached = cache.get(model);
    if (cached) return { ...cached };
    return show(model, signal);
  }

  async function listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
    throwIfAborted(name, signal);
    const state: CallState = { retryAfterMs: null };
    let names: string[];
    try {
      names = (await clientFor(signal, state).list()).models.map((m) => m.name);
    } catch (err) {
      throw toError(err, signal, state);
    }
    // /api/show for each model, a few at a time
    const models: ModelInfo[] = new Array(names.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < names.length) {
        const index = next++;
        const model = names[index]!;
        try {
          models[index] = await capabilities(model, signal);
        } catch (err) {
          if (err instanceof ProviderError && err.failure === 'aborted') throw err;
          models[index] = { name: model, contextLength: null, vision: false, tools: false };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SHOW_CONCURRENCY, names.length) }, worker));
    return models;
  }

  async function embed(model: string, texts: string[], signal?: AbortSignal): Promise<EmbedResult> {
    throwIfAborted(name, signal);
    if (texts.length === 0) return { vectors: [], usage: null };
    const state: CallState = { retryAfterMs: null };
    try {
      const response = await clientFor(signal, state).embed({ model, input: texts });
      if (!Array.isArray(response.embeddings) || response.embeddings.length !== texts.length) {
        throw new ProviderError('malformed', `${name}: asked for ${texts.length} embeddings, got a different count`);
      }
      const usage =
        typeof response.prompt_eval_count === 'number' ? { inputTokens: response.prompt_eval_count, outputTokens: 0 } : null;
      return { vectors: response.embeddings, usage };
    } catch (err) {
      throw toError(err, signal, state);
    }
  }

  /** Ollama allocates memory for num_ctx and reloads the model when it changes: every turn asks for the same. */
  function chatWindow(modelContextLength: number, defaultContextLength: number): ChatWindow {
    const contextLength = Math.min(modelContextLength, defaultContextLength);
    return { contextLength, params: { contextLength, ...(options.keepAlive !== undefined ? { keepAlive: options.keepAlive } : {}) } };
  }

  return { name, kind: 'ollama', streamChat, listModels, embed, capabilities, chatWindow };
}
