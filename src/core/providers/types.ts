import type { ProviderError } from '../errors.js';

/** An image attached to a message, sent only to models that accept images. */
export interface ImagePart {
  mimeType: string;
  /** base64 without a data: prefix */
  data: string;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  images?: ImagePart[];
  /** assistant: the tools it asked for, in the order it asked */
  toolCalls?: ToolCall[];
  /** tool: the call this message is the result of */
  toolCallId?: string;
  /** tool: the name of the tool that ran (Ollama wants it with the result) */
  toolName?: string;
  /** tool: the result is an error the model should know about */
  isError?: boolean;
}

/** A tool the model may call, as every provider is told about it. */
export interface ToolSpec {
  /** `^[a-zA-Z0-9_-]{1,64}$`, the strictest rule among the providers */
  name: string;
  description: string;
  /** a JSON Schema object (`type: 'object'`) */
  inputSchema: Record<string, unknown>;
}

/** One call the model asked for, assembled from however many chunks it streamed in. */
export interface ToolCall {
  /** the provider's id, or one made up when the provider gives none (Ollama) */
  id: string;
  name: string;
  /** the arguments as the model wrote them: JSON text, perhaps invalid */
  arguments: string;
}

export interface GenerationParams {
  temperature?: number;
  maxTokens?: number;
  topP?: number;
  /** Ollama num_ctx; ignored elsewhere */
  contextLength?: number;
  /** Ollama keep_alive, passed through as given */
  keepAlive?: string | number;
}

export interface ChatRequest {
  /** the provider-local model name: `gpt-4o-mini`, not `openai/gpt-4o-mini` */
  model: string;
  messages: ChatMessage[];
  params: GenerationParams;
  /** tools the model may call; absent or empty: a plain chat */
  tools?: ToolSpec[];
  signal?: AbortSignal;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export type ChatChunk =
  | { type: 'text'; text: string }
  /** one whole tool call, after its last fragment arrived; several may come before `done` */
  | { type: 'tool_call'; call: ToolCall }
  | { type: 'done'; usage: TokenUsage | null; stopReason: string | null };

export interface ModelInfo {
  /** provider-local model name */
  name: string;
  contextLength: number | null;
  vision: boolean;
  tools: boolean;
}

export interface EmbedResult {
  vectors: number[][];
  usage: TokenUsage | null;
}

/** How a chat turn with one model is sized, and what its provider adds to the turn's request. */
export interface ChatWindow {
  /** tokens the prompt and the answer must fit in */
  contextLength: number;
  params: Pick<GenerationParams, 'contextLength' | 'keepAlive'>;
}

export type ProviderKind = 'openai' | 'anthropic' | 'ollama';

/**
 * One model provider. Implementations wrap the official SDKs, turn off the SDK's own retries
 * (the router retries with jitter and honours retry-after), and throw only ProviderError.
 */
export interface Provider {
  /** configured name, the part before the slash in `name/model` */
  readonly name: string;
  readonly kind: ProviderKind;
  /** Text deltas and whole tool calls, then exactly one `done`. Throws ProviderError. */
  streamChat(request: ChatRequest): AsyncIterable<ChatChunk>;
  listModels(signal?: AbortSignal): Promise<ModelInfo[]>;
  embed(model: string, texts: string[], signal?: AbortSignal): Promise<EmbedResult>;
  /**
   * A provider whose server sizes its memory per request shapes a chat turn here; without it, a
   * turn uses the model's whole context length and adds nothing.
   */
  chatWindow?(modelContextLength: number, defaultContextLength: number): ChatWindow;
  /** Capabilities of one model; falls back to conservative defaults when the provider cannot tell. */
  capabilities(model: string, signal?: AbortSignal): Promise<ModelInfo>;
}

export type { ProviderError };
