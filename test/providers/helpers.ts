import { expect } from 'vitest';
import { ProviderError, type ProviderFailure } from '../../src/core/errors.js';
import type { ChatChunk, ChatRequest, Provider, ToolCall } from '../../src/core/providers/types.js';

export interface Collected {
  texts: string[];
  text: string;
  /** whole tool calls, in the order they came */
  calls: ToolCall[];
  /** what came, in order: 't' a text chunk, 'c' a tool call (e.g. `ttc`) */
  order: string;
  done: Extract<ChatChunk, { type: 'done' }> | null;
  /** number of `done` chunks seen (must be exactly 1 on success) */
  doneCount: number;
  error: unknown;
  /** ms from start until the error (or the end) */
  elapsedMs: number;
}

/** Drains a chat stream, capturing text, the done chunk and any error. `onText` runs after each text chunk. */
export async function collect(stream: AsyncIterable<ChatChunk>, onText?: (text: string, index: number) => void): Promise<Collected> {
  const started = Date.now();
  const out: Collected = { texts: [], text: '', calls: [], order: '', done: null, doneCount: 0, error: undefined, elapsedMs: 0 };
  try {
    for await (const chunk of stream) {
      if (chunk.type === 'text') {
        expect(out.done, 'text after done').toBeNull();
        out.texts.push(chunk.text);
        out.order += 't';
        onText?.(chunk.text, out.texts.length - 1);
      } else if (chunk.type === 'tool_call') {
        expect(out.done, 'tool call after done').toBeNull();
        out.calls.push(chunk.call);
        out.order += 'c';
      } else if (chunk.type === 'done') {
        out.done = chunk;
        out.doneCount++;
      }
    }
  } catch (err) {
    out.error = err;
  }
  out.text = out.texts.join('');
  out.elapsedMs = Date.now() - started;
  return out;
}

export function expectFailure(err: unknown, failure: ProviderFailure): ProviderError {
  expect(err, `expected a ProviderError(${failure})`).toBeInstanceOf(ProviderError);
  const e = err as ProviderError;
  expect(e.failure, e.message).toBe(failure);
  return e;
}

/** Awaits a promise expected to reject, returning the rejection. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

export function chat(provider: Provider, model: string, text: string, extra: Partial<ChatRequest> = {}): AsyncIterable<ChatChunk> {
  return provider.streamChat({ model, messages: [{ role: 'user', content: text }], params: {}, ...extra });
}

/** Resolves true if `promise` settles within `ms`. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  const result = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}

/** A 1x1 PNG, base64. */
export const PIXEL_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
