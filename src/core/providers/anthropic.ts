import Anthropic from '@anthropic-ai/sdk';
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
import { pairToolCalls, toolArgumentsObject } from './tool-history.js';
import type { ChatChunk, ChatMessage, ChatRequest, EmbedResult, ModelInfo, Provider } from './types.js';

export interface AnthropicProviderOptions {
  name: string;
  apiKey?: string;
  /** default https://api.anthropic.com (no /v1) */
  baseURL?: string;
}

const ANTHROPIC_BASE_URL = 'https://api.anthropic.com';
const DEFAULT_MAX_TOKENS = 4096;
const SDK_TIMEOUT_MS = 10 * 60_000;
/** Anthropic requires the first message to be the user's. */
const LEADING_USER_PLACEHOLDER = '(conversation continues)';

type MessageParam = Anthropic.MessageParam;
type Block = Anthropic.TextBlockParam | Anthropic.ImageBlockParam | Anthropic.ToolUseBlockParam | Anthropic.ToolResultBlockParam;
type ImageMediaType = Anthropic.Base64ImageSource['media_type'];

function blocksOf(m: ChatMessage): Block[] {
  if (m.role === 'tool') {
    const result: Anthropic.ToolResultBlockParam = { type: 'tool_result', tool_use_id: m.toolCallId ?? '' };
    // empty text is refused here as anywhere: an empty result goes without content
    if (m.content.trim()) result.content = m.content;
    if (m.isError) result.is_error = true;
    return [result];
  }
  const blocks: Block[] = [];
  if (m.role === 'user') {
    for (const image of m.images ?? []) {
      blocks.push({
        type: 'image',
        source: { type: 'base64', media_type: image.mimeType as ImageMediaType, data: image.data },
      });
    }
  }
  // empty text blocks are refused by the API
  if (m.content.trim()) blocks.push({ type: 'text', text: m.content });
  if (m.role === 'assistant') {
    for (const call of m.toolCalls ?? []) {
      blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: toolArgumentsObject(call.arguments) });
    }
  }
  return blocks;
}

/**
 * Splits our messages into Anthropic's top-level `system` text and a user/assistant list that
 * alternates and starts with the user, merging consecutive same-role messages.
 */
export function toAnthropicMessages(messages: ChatMessage[]): { system: string | undefined; messages: MessageParam[] } {
  const systemParts: string[] = [];
  const turns: Array<{ role: 'user' | 'assistant'; blocks: Block[] }> = [];
  for (const m of pairToolCalls(messages)) {
    if (m.role === 'system') {
      if (m.content.trim()) systemParts.push(m.content);
      continue;
    }
    const blocks = blocksOf(m);
    if (blocks.length === 0) continue;
    // tool results travel in the user's turn, right after the call
    const role = m.role === 'tool' ? 'user' : m.role;
    const last = turns[turns.length - 1];
    if (last && last.role === role) last.blocks.push(...blocks);
    else turns.push({ role, blocks });
  }
  for (const turn of turns) {
    // a user turn answering calls must open with the results; sort is stable, so each keeps its order
    if (turn.role === 'user') turn.blocks.sort((a, b) => Number(b.type === 'tool_result') - Number(a.type === 'tool_result'));
  }
  if (turns[0]?.role !== 'user') {
    turns.unshift({ role: 'user', blocks: [{ type: 'text', text: LEADING_USER_PLACEHOLDER }] });
  }
  const final = turns[turns.length - 1];
  if (final?.role === 'assistant') {
    // a trailing assistant turn is a prefill, which may not end in whitespace
    const lastBlock = final.blocks[final.blocks.length - 1];
    if (lastBlock?.type === 'text') lastBlock.text = lastBlock.text.trimEnd();
  }
  const out = turns.map((turn): MessageParam => {
    const onlyText = turn.blocks.every((b) => b.type === 'text');
    const content = onlyText ? turn.blocks.map((b) => (b as Anthropic.TextBlockParam).text).join('\n\n') : turn.blocks;
    return { role: turn.role, content };
  });
  return { system: systemParts.length > 0 ? systemParts.join('\n\n') : undefined, messages: out };
}

function isClaude(model: string): boolean {
  return /(^|[/.:])claude/i.test(model);
}

export function createAnthropicProvider(options: AnthropicProviderOptions): Provider {
  const { name } = options;
  const client = new Anthropic({
    // Always explicit: otherwise the SDK goes looking for credentials in the environment and on disk.
    apiKey: options.apiKey ?? 'not-needed',
    baseURL: options.baseURL ?? ANTHROPIC_BASE_URL,
    maxRetries: 0,
    timeout: SDK_TIMEOUT_MS,
    logLevel: 'off',
  });

  function toError(err: unknown, signal?: AbortSignal): ProviderError {
    if (err instanceof ProviderError) return err;
    if (signal?.aborted || err instanceof Anthropic.APIUserAbortError) return abortedError(name, err);
    if (err instanceof Anthropic.APIConnectionTimeoutError) {
      return new ProviderError('timeout', `${name}: no response headers within ${SDK_TIMEOUT_MS} ms`, { cause: err });
    }
    if (err instanceof Anthropic.APIConnectionError) return connectionError(name, err);
    if (err instanceof Anthropic.APIError) {
      const message = err.apiMessage ?? err.message;
      if (typeof err.status === 'number') {
        return httpError(name, { status: err.status, message, headers: err.headers }, err);
      }
      // an `event: error` inside the stream (e.g. overloaded_error mid-answer)
      const failure = err.type === 'overloaded_error' || err.type === 'api_error' ? 'server' : failureForMessage(message);
      return new ProviderError(failure, `${name}: ${message}`, { cause: err });
    }
    return classifyOther(name, err, signal);
  }

  async function* streamChat(request: ChatRequest): AsyncGenerator<ChatChunk> {
    const { signal, params } = request;
    throwIfAborted(name, signal);
    const { system, messages } = toAnthropicMessages(request.messages);
    const body: Anthropic.MessageCreateParamsStreaming = {
      model: request.model,
      max_tokens: params.maxTokens ?? DEFAULT_MAX_TOKENS,
      messages,
      stream: true,
    };
    if (system !== undefined) body.system = system;
    if (request.tools?.length) {
      body.tools = request.tools.map((tool) => ({
        name: tool.name,
        description: tool.description,
        input_schema: tool.inputSchema as Anthropic.Tool.InputSchema,
      }));
    }
    // temperature and top_p are not sent: SDK 1.x no longer has them and current Claude models refuse them.

    let inputTokens: number | null = null;
    let outputTokens: number | null = null;
    let stopReason: string | null = null;
    let stopped = false;
    /** tool_use blocks still arriving, by content block index */
    const openCalls = new Map<number, { id: string; name: string; json: string; input: unknown }>();
    try {
      const stream = await client.messages.create(body, { signal });
      for await (const event of stream) {
        switch (event.type) {
          case 'message_start': {
            const usage = event.message.usage;
            if (usage) {
              inputTokens =
                (usage.input_tokens ?? 0) +
                (usage.cache_creation_input_tokens ?? 0) +
                (usage.cache_read_input_tokens ?? 0);
              outputTokens = usage.output_tokens ?? null;
            }
            break;
          }
          case 'content_block_start':
            if (event.content_block.type === 'tool_use') {
              const { id, name, input } = event.content_block;
              openCalls.set(event.index, { id, name, json: '', input });
            }
            break;
          case 'content_block_delta':
            if (event.delta.type === 'text_delta' && event.delta.text) yield { type: 'text', text: event.delta.text };
            if (event.delta.type === 'input_json_delta') {
              const call = openCalls.get(event.index);
              if (call) call.json += event.delta.partial_json;
            }
            break;
          case 'content_block_stop': {
            const call = openCalls.get(event.index);
            if (call) {
              openCalls.delete(event.index);
              // a call with no arguments may stream no pieces: its input is the one it started with
              const args = call.json || JSON.stringify(call.input ?? {});
              yield { type: 'tool_call', call: { id: call.id, name: call.name, arguments: args } };
            }
            break;
          }
          case 'message_delta':
            if (event.delta.stop_reason) stopReason = event.delta.stop_reason;
            if (event.usage) {
              if (typeof event.usage.output_tokens === 'number') outputTokens = event.usage.output_tokens;
              if (typeof event.usage.input_tokens === 'number') {
                inputTokens =
                  event.usage.input_tokens +
                  (event.usage.cache_creation_input_tokens ?? 0) +
                  (event.usage.cache_read_input_tokens ?? 0);
              }
            }
            break;
          case 'message_stop':
            stopped = true;
            break;
          default:
            break;
        }
      }
    } catch (err) {
      throw toError(err, signal);
    }
    // The SDK ends the iteration quietly when its request is aborted.
    throwIfAborted(name, signal);
    if (!stopped) throw truncatedError(name);
    const usage =
      inputTokens === null && outputTokens === null
        ? null
        : { inputTokens: inputTokens ?? 0, outputTokens: outputTokens ?? 0 };
    yield { type: 'done', usage, stopReason };
  }

  function capsFor(model: string, listedContext?: number | null): ModelInfo {
    if (!isClaude(model)) return { name: model, contextLength: listedContext ?? null, vision: false, tools: false };
    return { name: model, contextLength: listedContext ?? 200_000, vision: true, tools: true };
  }

  async function listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
    throwIfAborted(name, signal);
    try {
      const models: ModelInfo[] = [];
      for await (const model of client.models.list({ limit: 1000 }, { signal })) {
        const listedContext = (model as { max_input_tokens?: number | null }).max_input_tokens ?? null;
        models.push(capsFor(model.id, listedContext));
      }
      throwIfAborted(name, signal);
      return models;
    } catch (err) {
      throw toError(err, signal);
    }
  }

  async function embed(_model: string, _texts: string[], signal?: AbortSignal): Promise<EmbedResult> {
    throwIfAborted(name, signal);
    throw new ProviderError('bad_request', `${name}: Anthropic has no embeddings API`);
  }

  async function capabilities(model: string, signal?: AbortSignal): Promise<ModelInfo> {
    throwIfAborted(name, signal);
    return capsFor(model);
  }

  return { name, kind: 'anthropic', streamChat, listModels, embed, capabilities };
}
