/** Types shared by the fake model servers. */
import type http from 'node:http';

/** A tool call the fake streams in its provider's wire format. */
export interface FakeToolCall {
  /** default: made up in the provider's style (`call_…`, `toolu_…`); Ollama sends none */
  id?: string;
  name: string;
  /** a string is sent as-is (so a test can send invalid JSON); anything else as its JSON */
  arguments: unknown;
}

export interface FakeUsage {
  input: number;
  output: number;
}

/**
 * What the fake does with one request. All fields are optional; an empty object streams the
 * default answer. Error fields (`status`) win over streaming fields.
 */
export interface FakeBehaviour {
  /** Text to stream. Default: the server's `defaultAnswer` for this request. */
  answer?: string;
  /** Characters per streamed chunk (default: server option `chunkSize`, else 4). */
  chunkSize?: number;
  /** Token usage to report; `null` sends none. Default: derived from request and answer size. */
  usage?: FakeUsage | null;
  /** Pause between chunks, in ms. */
  delayMs?: number;
  /**
   * Stop reason in the provider's own vocabulary (default 'stop' / 'end_turn'; with `toolCalls`,
   * 'tool_calls' / 'tool_use' / 'stop' as each server says it).
   */
  stopReason?: string;
  /**
   * Tool calls to stream after the text, in the provider's wire format: arguments cut into
   * `chunkSize` fragments (OpenAI: the calls interleaved by index). With calls and no `answer`,
   * there is no text. Each fragment counts as a chunk for cuts, stalls and error frames.
   */
  toolCalls?: FakeToolCall[];

  /** Answer with this HTTP status and the provider's own error JSON. */
  status?: number;
  /** Message inside the error JSON. */
  errorMessage?: string;
  /** Anthropic/OpenAI error `type` inside the error JSON (default chosen from the status). */
  errorType?: string;
  /** `retry-after` header: seconds, or a string sent as-is (e.g. an HTTP date). */
  retryAfter?: number | string;
  /** `retry-after-ms` header. */
  retryAfterMs?: number;

  /** Send nothing at all, not even headers, for this long (Infinity: until the client leaves), then go on. */
  stallBeforeHeadersMs?: number;
  /** Send the response headers, then nothing for this long (Infinity: until the client leaves). */
  stallBeforeFirstTokenMs?: number;
  /** After this many chunks, pause for `stallMs` (default Infinity: until the client leaves). */
  stallAfterChunks?: number;
  stallMs?: number;
  /** After this many chunks, destroy the socket without ending the response. */
  cutAfterChunks?: number;
  /** Send one frame that is not valid JSON before the first chunk (the rest follows normally). */
  malformed?: boolean;
  /** After this many chunks, send the provider's in-stream error frame and end the response. */
  errorAfterChunks?: number;
}

/** `pull`, `delete`, `ps` and `generate` exist on the fake Ollama only. */
export type FakeRoute = 'chat' | 'models' | 'embed' | 'show' | 'pull' | 'delete' | 'ps' | 'generate';

export interface RecordedRequest {
  method: string;
  /** path without the query string, e.g. `/v1/chat/completions` */
  path: string;
  headers: http.IncomingHttpHeaders;
  /** parsed JSON body (undefined when there was none); `any` so tests can reach in freely */
  body: any;
  /** true once the connection closed before the response was complete (client abort or a scripted cut) */
  disconnected: boolean;
  /** resolves when the response has finished or the connection has closed */
  settled: Promise<void>;
}

export interface FakeServerOptions {
  /** Models the server knows; a request for another gets the API's own 404. `'*'` accepts any. */
  models?: string[];
  /** Default answer text, or a function of the request. Default: `Echo: <last user message text>`. */
  defaultAnswer?: string | ((request: RecordedRequest) => string);
  /** Default characters per chunk (4). */
  chunkSize?: number;
  /** Embedding dimension (8). */
  embeddingDimension?: number;
  /** Makes each embedding; default `fakeEmbedding` (a hash: unrelated texts, unrelated vectors). */
  embedder?: (text: string, dimension: number) => number[];
}

/** The object every fake resolves to. */
export interface FakeProviderServer {
  /** Base URL to hand to the SDK (OpenAI: ends in `/v1`; Anthropic and Ollama: the origin). */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Models the server knows; mutable. */
  models: string[];
  /** Queue behaviours for chat requests, consumed one per chat request, in order. */
  script(...behaviours: FakeBehaviour[]): void;
  /** Queue behaviours for another route; those honour status/retryAfter, stalls, cuts and malformed. */
  scriptFor(route: FakeRoute, ...behaviours: FakeBehaviour[]): void;
  /** Recorded chat requests only. */
  chatRequests(): RecordedRequest[];
  /** Body of the latest chat request (throws if none). */
  lastChatBody(): any;
  /** Close the server and destroy open sockets (stalled streams included). */
  close(): Promise<void>;
}
