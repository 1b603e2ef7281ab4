import OpenAI from 'openai';
import { ProviderError } from '../errors.js';
import {
  abortedError,
  classifyOther,
  connectionError,
  failureForMessage,
  httpError,
  throwIfAborted,
  truncatedError,
} from './classify.js';
import { pairToolCalls, toolResultText } from './tool-history.js';
import type { ChatChunk, ChatMessage, ChatRequest, EmbedResult, ModelInfo, Provider, TokenUsage, ToolCall } from './types.js';

export interface OpenAIProviderOptions {
  name: string;
  /** absent for local servers that need none */
  apiKey?: string;
  /** e.g. http://localhost:8000/v1 for vLLM; default https://api.openai.com/v1 */
  baseURL?: string;
  defaultHeaders?: Record<string, string>;
}

const OPENAI_BASE_URL = 'https://api.openai.com/v1';
/** Only until response headers arrive; the router enforces real timeouts through the AbortSignal. */
const SDK_TIMEOUT_MS = 10 * 60_000;

type Caps = Omit<ModelInfo, 'name'>;

/** Known OpenAI models, first match wins (more specific patterns first). */
const KNOWN_MODELS: Array<[RegExp, Caps]> = [
  [/^gpt-5(\b|[-.])/, { contextLength: 400_000, vision: true, tools: true }],
  [/^gpt-4\.1(\b|-)/, { contextLength: 1_047_576, vision: true, tools: true }],
  [/^gpt-4o(\b|-)/, { contextLength: 128_000, vision: true, tools: true }],
  [/^gpt-4-turbo(\b|-)/, { contextLength: 128_000, vision: true, tools: true }],
  [/^gpt-4-32k(\b|-)/, { contextLength: 32_768, vision: false, tools: true }],
  [/^gpt-4(-\d{4})?$/, { contextLength: 8_192, vision: false, tools: true }],
  [/^gpt-3\.5-turbo-instruct/, { contextLength: 4_096, vision: false, tools: false }],
  [/^gpt-3\.5-turbo/, { contextLength: 16_385, vision: false, tools: true }],
  [/^o1-mini(\b|-)/, { contextLength: 128_000, vision: false, tools: false }],
  [/^o1-preview(\b|-)/, { contextLength: 128_000, vision: false, tools: false }],
  [/^o3-mini(\b|-)/, { contextLength: 200_000, vision: false, tools: true }],
  [/^o[1-9](\b|-)/, { contextLength: 200_000, vision: true, tools: true }],
  [/^text-embedding-/, { contextLength: 8_191, vision: false, tools: false }],
];

const UNKNOWN_CAPS: Caps = { contextLength: null, vision: false, tools: false };

/** Capabilities from the built-in table, or null for a model it does not know. */
export function knownOpenAIModel(model: string): Caps | null {
  const hit = KNOWN_MODELS.find(([pattern]) => pattern.test(model));
  return hit ? { ...hit[1] } : null;
}

type OpenAIMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type ContentPart = OpenAI.Chat.Completions.ChatCompletionContentPart;
type ToolCallDelta = OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall;

export function toOpenAIMessages(messages: ChatMessage[]): OpenAIMessage[] {
  return pairToolCalls(messages).map((m): OpenAIMessage => {
    if (m.role === 'system') return { role: 'system', content: m.content };
    if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId ?? '', content: toolResultText(m) };
    if (m.role === 'assistant') {
      if (!m.toolCalls?.length) return { role: 'assistant', content: m.content };
      return {
        role: 'assistant',
        content: m.content || null,
        tool_calls: m.toolCalls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        })),
      };
    }
    if (!m.images || m.images.length === 0) return { role: 'user', content: m.content };
    const parts: ContentPart[] = [];
    if (m.content) parts.push({ type: 'text', text: m.content });
    for (const image of m.images) {
      parts.push({ type: 'image_url', image_url: { url: `data:${image.mimeType};base64,${image.data}` } });
    }
    return { role: 'user', content: parts };
  });
}

/**
 * Joins `delta.tool_calls` fragments into whole calls. A fragment names its call by `index`; a
 * fragment bringing a new id at an index already in use starts another call (some compatible
 * servers number every call 0).
 */
class ToolCallAssembler {
  private readonly calls: ToolCall[] = [];
  private readonly byIndex = new Map<number, ToolCall>();

  add(fragment: ToolCallDelta): void {
    const index = fragment.index ?? 0;
    let call = this.byIndex.get(index);
    if (!call || (fragment.id && call.id && fragment.id !== call.id)) {
      call = { id: '', name: '', arguments: '' };
      this.calls.push(call);
      this.byIndex.set(index, call);
    }
    if (fragment.id) call.id = fragment.id;
    if (fragment.function?.name && !call.name) call.name = fragment.function.name;
    if (fragment.function?.arguments) call.arguments += fragment.function.arguments;
  }

  /** The calls in the order they began; a call without arguments has `{}`. */
  whole(): ToolCall[] {
    return this.calls.map((call, i) => ({
      id: call.id || `call_${i + 1}`,
      name: call.name,
      arguments: call.arguments || '{}',
    }));
  }
}

/**
 * The streaming request body. `forOpenAI` (the real api.openai.com) sends `max_completion_tokens`,
 * which OpenAI's reasoning models require; compatible servers mostly know only `max_tokens`.
 */
export function openAIChatBody(
  request: ChatRequest,
  forOpenAI: boolean,
): OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming {
  const { params } = request;
  const body: OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming = {
    model: request.model,
    messages: toOpenAIMessages(request.messages),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (request.tools?.length) {
    body.tools = request.tools.map((tool) => ({
      type: 'function',
      function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
    }));
  }
  if (params.temperature !== undefined) body.temperature = params.temperature;
  if (params.topP !== undefined) body.top_p = params.topP;
  if (params.maxTokens !== undefined) {
    if (forOpenAI) body.max_completion_tokens = params.maxTokens;
    else body.max_tokens = params.maxTokens;
  }
  return body;
}

/** Some servers list context sizes in /v1/models: vLLM `max_model_len`, OpenRouter `context_length`. */
function listedContextLength(model: unknown): number | null {
  const record = model as Record<string, unknown>;
  for (const key of ['context_length', 'max_model_len', 'context_window', 'max_context_length']) {
    const value = record[key];
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  }
  return null;
}

function decodeEmbedding(embedding: unknown): number[] {
  if (Array.isArray(embedding)) return embedding as number[];
  if (typeof embedding === 'string') {
    const buf = Buffer.from(embedding, 'base64');
    return Array.from(new Float32Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 4)));
  }
  throw new ProviderError('malformed', 'embedding is neither an array nor base64');
}

export function createOpenAIProvider(options: OpenAIProviderOptions): Provider {
  const { name } = options;
  const baseURL = options.baseURL ?? OPENAI_BASE_URL;
  const isOpenAI = /^https:\/\/api\.openai\.com(\/|$)/.test(baseURL);
  const client = new OpenAI({
    apiKey: options.apiKey ?? 'not-needed',
    baseURL,
    defaultHeaders: options.defaultHeaders,
    maxRetries: 0,
    timeout: SDK_TIMEOUT_MS,
    logLevel: 'off',
  });
  const listed = new Map<string, Caps>();
  // a model the table does not know, on a compatible server (LM Studio, vLLM, llama.cpp): that
  // server decides whether it calls tools, and says so when it cannot; on OpenAI it is not a chat model
  const unknownCaps: Caps = { ...UNKNOWN_CAPS, tools: !isOpenAI };

  function toError(err: unknown, signal?: AbortSignal): ProviderError {
    if (err instanceof ProviderError) return err;
    if (signal?.aborted || err instanceof OpenAI.APIUserAbortError) return abortedError(name, err);
    if (err instanceof OpenAI.APIConnectionTimeoutError) {
      return new ProviderError('timeout', `${name}: no response headers within ${SDK_TIMEOUT_MS} ms`, { cause: err });
    }
    if (err instanceof OpenAI.APIConnectionError) return connectionError(name, err);
    if (err instanceof OpenAI.APIError) {
      if (typeof err.status === 'number') {
        return httpError(name, { status: err.status, message: err.message, headers: err.headers }, err);
      }
      // an `error` object sent inside the stream
      return new ProviderError(failureForMessage(err.message), `${name}: ${err.message}`, { cause: err });
    }
    return classifyOther(name, err, signal);
  }

  async function* streamChat(request: ChatRequest): AsyncGenerator<ChatChunk> {
    const { signal } = request;
    throwIfAborted(name, signal);
    const body = openAIChatBody(request, isOpenAI);

    let usage: TokenUsage | null = null;
    let stopReason: string | null = null;
    const toolCalls = new ToolCallAssembler();
    try {
      const stream = await client.chat.completions.create(body, { signal });
      for await (const chunk of stream) {
        if (chunk.usage) {
          usage = { inputTokens: chunk.usage.prompt_tokens ?? 0, outputTokens: chunk.usage.completion_tokens ?? 0 };
        }
        for (const choice of chunk.choices ?? []) {
          if (choice.index !== 0) continue;
          const text = choice.delta?.content;
          if (text) yield { type: 'text', text };
          for (const fragment of choice.delta?.tool_calls ?? []) toolCalls.add(fragment);
          if (choice.finish_reason) stopReason = choice.finish_reason;
        }
      }
    } catch (err) {
      throw toError(err, signal);
    }
    // The SDK ends the iteration quietly when its request is aborted.
    throwIfAborted(name, signal);
    if (stopReason === null && usage === null) throw truncatedError(name);
    // a call's last fragment is known only once the answer has finished
    for (const call of toolCalls.whole()) yield { type: 'tool_call', call };
    yield { type: 'done', usage, stopReason };
  }

  async function listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
    throwIfAborted(name, signal);
    try {
      const models: ModelInfo[] = [];
      for await (const model of client.models.list({ signal })) {
        const known = knownOpenAIModel(model.id);
        const contextLength = listedContextLength(model);
        const caps: Caps = known ?? { ...unknownCaps, contextLength };
        if (!known) listed.set(model.id, caps);
        models.push({ name: model.id, ...caps });
      }
      throwIfAborted(name, signal);
      return models;
    } catch (err) {
      throw toError(err, signal);
    }
  }

  async function embed(model: string, texts: string[], signal?: AbortSignal): Promise<EmbedResult> {
    throwIfAborted(name, signal);
    if (texts.length === 0) return { vectors: [], usage: null };
    try {
      // Ask for base64 explicitly so the SDK hands the payload over untouched; some compatible
      // servers ignore encoding_format and send float arrays, which decodeEmbedding also takes.
      const response = await client.embeddings.create(
        { model, input: texts, encoding_format: 'base64' },
        { signal },
      );
      const data = [...(response.data ?? [])].sort((a, b) => a.index - b.index);
      if (data.length !== texts.length) {
        throw new ProviderError('malformed', `${name}: asked for ${texts.length} embeddings, got ${data.length}`);
      }
      const vectors = data.map((d) => decodeEmbedding(d.embedding));
      const usage = response.usage ? { inputTokens: response.usage.prompt_tokens ?? 0, outputTokens: 0 } : null;
      return { vectors, usage };
    } catch (err) {
      throw toError(err, signal);
    }
  }

  async function capabilities(model: string, signal?: AbortSignal): Promise<ModelInfo> {
    throwIfAborted(name, signal);
    const known = knownOpenAIModel(model);
    if (known) return { name: model, ...known };
    if (!listed.has(model)) {
      // A compatible server may state its context size in /v1/models; if it cannot be asked, say "unknown".
      try {
        await listModels(signal);
        if (!listed.has(model)) listed.set(model, unknownCaps);
      } catch (err) {
        if (err instanceof ProviderError && err.failure === 'aborted') throw err;
      }
    }
    return { name: model, ...(listed.get(model) ?? unknownCaps) };
  }

  return { name, kind: 'openai', streamChat, listModels, embed, capabilities };
}
