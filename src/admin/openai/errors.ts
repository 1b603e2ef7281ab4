import type { FastifyError, FastifyReply } from 'fastify';
import { ThreadloomError } from '../../core/errors.js';
import { redactSecrets } from '../../core/redact.js';

/** OpenAI's error shape; every /v1 answer that is not a success has it, streamed or not. */
export interface ApiError {
  status: number;
  message: string;
  type: 'invalid_request_error' | 'rate_limit_error' | 'api_error' | 'server_error';
  code: string | null;
  param?: string | null;
}

const INTERNAL_FAILURE_LINE = 'Something went wrong on the server; nothing was answered. The server log has the details.';

export const internalFailure: ApiError = { status: 500, message: INTERNAL_FAILURE_LINE, type: 'server_error', code: 'internal_error' };

export const errorBody = (error: ApiError, secrets: readonly string[]) => ({
  error: { message: redactSecrets(error.message, secrets), type: error.type, param: error.param ?? null, code: error.code },
});

export function sendApiError(reply: FastifyReply, error: ApiError, secrets: readonly string[]): FastifyReply {
  return reply.code(error.status).type('application/json; charset=utf-8').send(errorBody(error, secrets));
}

/** What a client sent that Fastify refused before our handler ran, said in a line the client can act on. */
const REQUEST_ERRORS: Record<string, (error: FastifyError, bodyLimit: number) => string> = {
  FST_ERR_CTP_EMPTY_JSON_BODY: () => 'The request body is empty: send a JSON object with model and messages.',
  FST_ERR_CTP_INVALID_JSON_BODY: () => 'The request body is not valid JSON.',
  FST_ERR_CTP_BODY_TOO_LARGE: (_e, limit) => `The request body is larger than the ${Math.floor(limit / (1024 * 1024))} MB this server accepts.`,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => 'The request body must be JSON (content-type: application/json).',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => 'The request body does not match its content-length.',
};

/** Any error that escaped a /v1 handler, as an OpenAI error: 4xx for what the client sent, else a 500 with no details. */
export function apiErrorFor(error: FastifyError | Error, bodyLimit: number): ApiError {
  if (error instanceof ThreadloomError) {
    if (error.code === 'rate_limited') return { status: 429, message: error.userMessage, type: 'rate_limit_error', code: 'rate_limited' };
    if (error.code === 'invalid') return { status: 400, message: error.userMessage, type: 'invalid_request_error', code: null };
    if (error.code === 'not_found') return { status: 404, message: error.userMessage, type: 'invalid_request_error', code: 'not_found' };
    return internalFailure;
  }
  const status = (error as FastifyError).statusCode ?? 500;
  if (status >= 500 || status < 400) return internalFailure;
  const code = (error as FastifyError).code ?? '';
  const describe = REQUEST_ERRORS[code] ?? (error instanceof SyntaxError ? REQUEST_ERRORS.FST_ERR_CTP_INVALID_JSON_BODY : undefined);
  return { status, message: describe ? describe(error as FastifyError, bodyLimit) : `The request was refused (HTTP ${status}).`, type: 'invalid_request_error', code: null };
}

/**
 * What a turn ended in, for the client: its answer, or why there is none — a refusal (the engine
 * marks the per-user turn limit and a spent budget as such) is 429, a provider failure 502 with
 * the line the chat shows (never the provider's own text), ours 500: a client must not be told to
 * retry a failure.
 */
export function turnResult<A extends { status: string }>(answer: A | null, reply: { notices: readonly string[]; refused: boolean; text: string }): { answer: A } | { error: ApiError } {
  const notice = reply.notices.join(' ');
  const chatLine = reply.text;
  if (!answer && reply.refused) return { error: { status: 429, message: notice, type: 'rate_limit_error', code: 'rate_limited' } };
  // no answer, or one left streaming: the turn broke off on our side
  if (!answer || answer.status === 'streaming') return { error: { ...internalFailure, message: notice || internalFailure.message } };
  if (answer.status === 'error') return { error: { status: 502, message: chatLine.trim() || 'No model could answer.', type: 'api_error', code: 'upstream_error' } };
  return { answer };
}
