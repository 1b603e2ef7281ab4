import { redactSecrets } from './redact.js';

/**
 * One error family. `message` is for logs; `userMessage` is what a chat user sees:
 * short, no secrets, no stack.
 */
export type ErrorCode =
  | 'config'
  | 'database'
  | 'migration'
  | 'not_found'
  | 'invalid'
  | 'forbidden'
  | 'rate_limited'
  | 'provider'
  | 'aborted'
  | 'unsupported'
  /** a chat platform's connection or local state (e.g. a locked Matrix store) */
  | 'platform';

export class ThreadloomError extends Error {
  readonly code: ErrorCode;
  readonly userMessage: string;
  /** the process must not go on without this part (e.g. another process owns its state) */
  readonly fatal: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; userMessage?: string; fatal?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ThreadloomError';
    this.code = code;
    this.userMessage = options.userMessage ?? message;
    this.fatal = options.fatal ?? false;
  }
}

/** A user (or its platform) asked too often; `retryAfterMs` says when to try again. */
export class RateLimitError extends ThreadloomError {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, userMessage?: string) {
    super('rate_limited', message, { userMessage: userMessage ?? message });
    this.name = 'RateLimitError';
    this.retryAfterMs = retryAfterMs;
  }
}

export type ProviderFailure =
  | 'connection' // refused, reset, DNS
  | 'server' // 5xx
  | 'rate_limited' // 429
  | 'timeout' // first-token or total timeout
  | 'unknown_model' // 404 / model not found
  | 'auth' // 401/403
  | 'bad_request' // 400 and other 4xx
  | 'malformed' // the stream could not be parsed
  | 'aborted'; // the caller aborted (stop)

/** Failure talking to a model provider, classified so the router can decide retry/fallback. */
export class ProviderError extends ThreadloomError {
  readonly failure: ProviderFailure;
  readonly status: number | null;
  readonly retryAfterMs: number | null;

  constructor(
    failure: ProviderFailure,
    message: string,
    options: { cause?: unknown; status?: number | null; retryAfterMs?: number | null } = {},
  ) {
    // a provider or proxy may echo our Authorization header in its error text: never keep it
    super('provider', redactSecrets(message, []), { cause: options.cause, userMessage: describeFailure(failure) });
    this.name = 'ProviderError';
    this.failure = failure;
    this.status = options.status ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }

  /** Worth trying the same model again after a pause. */
  get retryable(): boolean {
    return this.failure === 'server' || this.failure === 'rate_limited' || this.failure === 'connection';
  }
}

function describeFailure(failure: ProviderFailure): string {
  switch (failure) {
    case 'connection':
      return 'the model server could not be reached';
    case 'server':
      return 'the model server had an internal error';
    case 'rate_limited':
      return 'the model provider is rate limiting us';
    case 'timeout':
      return 'the model took too long to answer';
    case 'unknown_model':
      return 'that model does not exist on its provider';
    case 'auth':
      return 'the provider refused our credentials';
    case 'bad_request':
      return 'the provider rejected the request';
    case 'malformed':
      return 'the provider sent a reply we could not read';
    case 'aborted':
      return 'the answer was stopped';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
