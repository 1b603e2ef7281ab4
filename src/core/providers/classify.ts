import { ProviderError, errorMessage, type ProviderFailure } from '../errors.js';

/**
 * Shared error classification for the provider adapters. Each adapter pulls the facts out of its
 * SDK's error type (status, headers, message) and hands them here, so the mapping from HTTP and
 * socket failures to `ProviderFailure` lives in one place.
 */

type HeaderSource = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource | null | undefined, name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name);
  }
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

/**
 * How long the server asked us to wait, in ms: `retry-after-ms`, else `retry-after` as seconds or
 * as an HTTP date. Null when absent or unparsable; never negative.
 */
export function parseRetryAfter(headers: HeaderSource | null | undefined, now: number = Date.now()): number | null {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== null && ms.trim() !== '') {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return Math.round(value);
  }
  const after = header(headers, 'retry-after');
  if (after === null || after.trim() === '') return null;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.round(seconds * 1000) : null;
  const date = Date.parse(after);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

const UNKNOWN_MODEL = /model.{0,200}(not found|does not exist|not exist|unknown|not available|not a valid)|(unknown|invalid|no such) model/i;

/** Failure for an HTTP error status. `message` lets a 400 that names a missing model count as unknown_model. */
export function failureForStatus(status: number, message = ''): ProviderFailure {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'unknown_model';
  if (status >= 500) return 'server';
  if (status >= 400 && UNKNOWN_MODEL.test(message)) return 'unknown_model';
  return 'bad_request';
}

/** Failure for an error message without a status (an error event inside a stream). */
export function failureForMessage(message: string): ProviderFailure {
  return UNKNOWN_MODEL.test(message) ? 'unknown_model' : 'server';
}

export function httpError(
  provider: string,
  facts: { status: number; message: string; headers?: HeaderSource | null | undefined },
  cause: unknown,
): ProviderError {
  const failure = failureForStatus(facts.status, facts.message);
  return new ProviderError(failure, `${provider}: ${facts.message || `HTTP ${facts.status}`}`, {
    status: facts.status,
    retryAfterMs: failure === 'rate_limited' || failure === 'server' ? parseRetryAfter(facts.headers) : null,
    cause,
  });
}

export function abortedError(provider: string, cause?: unknown): ProviderError {
  return new ProviderError('aborted', `${provider}: request aborted`, { cause });
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Walks `cause` links (bounded) and returns every error in the chain. */
function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = err;
  while (current !== undefined && current !== null && chain.length < 8 && !chain.includes(current)) {
    chain.push(current);
    current = typeof current === 'object' ? (current as { cause?: unknown }).cause : undefined;
  }
  return chain;
}

export function isAbortLike(err: unknown): boolean {
  return causeChain(err).some((e) => {
    const name = (e as { name?: unknown } | null)?.name;
    return name === 'AbortError';
  });
}

/** A refused, reset or dropped socket anywhere in the cause chain (undici: "fetch failed", "terminated"). */
export function isConnectionLike(err: unknown): boolean {
  return causeChain(err).some((e) => {
    if (typeof e !== 'object' || e === null) return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
    const message = (e as { message?: unknown }).message;
    return (
      e instanceof TypeError &&
      typeof message === 'string' &&
      /^(fetch failed|terminated)$|other side closed|socket hang up/i.test(message)
    );
  });
}

/** A stream frame that would not parse (JSON.parse throws SyntaxError). */
export function isMalformedLike(err: unknown): boolean {
  return causeChain(err).some((e) => e instanceof SyntaxError);
}

/**
 * Last-resort classification for anything the adapter's SDK-specific checks did not recognise:
 * caller abort, socket trouble, unparsable frames; anything else counts as a server failure.
 */
export function classifyOther(provider: string, err: unknown, signal?: AbortSignal): ProviderError {
  if (err instanceof ProviderError) return err;
  if (signal?.aborted || isAbortLike(err)) return abortedError(provider, err);
  if (isMalformedLike(err)) {
    return new ProviderError('malformed', `${provider}: unreadable reply: ${errorMessage(err)}`, { cause: err });
  }
  if (isConnectionLike(err)) return connectionError(provider, err);
  return new ProviderError('server', `${provider}: ${errorMessage(err)}`, { cause: err });
}

/** The SDK says the connection failed; keep the underlying reason (refused, reset...) in the message. */
export function connectionError(provider: string, err: unknown): ProviderError {
  return new ProviderError('connection', `${provider}: connection failed: ${describeConnection(err)}`, { cause: err });
}

function describeConnection(err: unknown): string {
  return causeChain(err)
    .map((e) => errorMessage(e))
    .filter((m, i, all) => m && all.indexOf(m) === i)
    .join(': ');
}

/** The stream ended cleanly at the socket level but without the provider's end-of-answer marker. */
export function truncatedError(provider: string): ProviderError {
  return new ProviderError('connection', `${provider}: the stream ended before the answer was complete`);
}

/** Throws `aborted` if the caller's signal has fired. */
export function throwIfAborted(provider: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(provider, signal.reason);
}
