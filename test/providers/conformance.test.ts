/**
 * The same behaviour asked of all three providers, each through its real SDK against its fake
 * (tool calling: tool-conformance.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Provider } from '../../src/core/providers/types.js';
import type { FakeProviderServer } from '../fakes/providers.js';
import { until } from '../support/wait.js';
import { chat, collect, expectFailure, rejection, settlesWithin } from './helpers.js';
import { subjects } from './subjects.js';

/** Bounds for what would otherwise hang (a stall is endless): not speed tests, so a loaded machine cannot miss them. */
const HANGUP_MS = 10_000;
const PROMPTLY_MS = 10_000;

describe.each(subjects)('$label provider against its fake', (subject) => {
  let fake: FakeProviderServer;
  let provider: Provider;

  beforeEach(async () => {
    fake = await subject.start();
    provider = subject.create(fake.url);
  });

  afterEach(async () => {
    await fake.close();
  });

  it('streams the answer in several text chunks, then exactly one done with usage', async () => {
    fake.script({ answer: 'Hello there, friend.', usage: { input: 12, output: 5 } });
    const result = await collect(chat(provider, subject.model, 'hi'));
    expect(result.error).toBeUndefined();
    expect(result.text).toBe('Hello there, friend.');
    expect(result.texts.length).toBeGreaterThan(3);
    expect(result.doneCount).toBe(1);
    expect(result.done).toEqual({ type: 'done', usage: { inputTokens: 12, outputTokens: 5 }, stopReason: subject.stopReason });
  });

  it('streams the default echo answer when nothing is scripted', async () => {
    const result = await collect(chat(provider, subject.model, 'what time is it'));
    expect(result.text).toBe('Echo: what time is it');
    expect(result.done?.usage?.inputTokens).toBeGreaterThan(0);
  });

  it('reports the stop reason the server gives', async () => {
    fake.script({ answer: 'cut short', stopReason: subject.label === 'anthropic' ? 'max_tokens' : 'length' });
    const result = await collect(chat(provider, subject.model, 'hi'));
    expect(result.done?.stopReason).toBe(subject.label === 'anthropic' ? 'max_tokens' : 'length');
  });

  it('reports usage null when the server sends none', async () => {
    fake.script({ answer: 'no counts', usage: null });
    const result = await collect(chat(provider, subject.model, 'hi'));
    expect(result.error).toBeUndefined();
    expect(result.text).toBe('no counts');
    expect(result.done?.usage).toBeNull();
  });

  it('streams a huge answer intact', async () => {
    const answer = 'x'.repeat(200_000);
    fake.script({ answer, chunkSize: 1000 });
    const result = await collect(chat(provider, subject.model, 'hi'));
    expect(result.error).toBeUndefined();
    expect(result.text.length).toBe(200_000);
    expect(result.doneCount).toBe(1);
  });

  it('classifies a 500 as server', async () => {
    fake.script({ status: 500 });
    const err = expectFailure((await collect(chat(provider, subject.model, 'hi'))).error, 'server');
    expect(err.status).toBe(500);
    expect(err.retryable).toBe(true);
  });

  it('classifies a 429 as rate_limited with retry-after in seconds', async () => {
    fake.script({ status: 429, retryAfter: 2 });
    const err = expectFailure((await collect(chat(provider, subject.model, 'hi'))).error, 'rate_limited');
    expect(err.status).toBe(429);
    expect(err.retryAfterMs).toBe(2000);
  });

  it('reads retry-after given as an HTTP date', async () => {
    fake.script({ status: 429, retryAfter: new Date(Date.now() + 30_000).toUTCString() });
    const err = expectFailure((await collect(chat(provider, subject.model, 'hi'))).error, 'rate_limited');
    expect(err.retryAfterMs).toBeGreaterThan(20_000); // whole seconds, less the time the request took
    expect(err.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('prefers retry-after-ms', async () => {
    fake.script({ status: 429, retryAfterMs: 1500, retryAfter: 9 });
    const err = expectFailure((await collect(chat(provider, subject.model, 'hi'))).error, 'rate_limited');
    expect(err.retryAfterMs).toBe(1500);
  });

  it('classifies an unknown model as unknown_model', async () => {
    const result = await collect(chat(provider, 'no-such-model', 'hi'));
    expectFailure(result.error, 'unknown_model');
    expect(fake.chatRequests()).toHaveLength(1);
  });

  it('classifies 401 as auth and 400 as bad_request', async () => {
    fake.script({ status: 401 }, { status: 400, errorMessage: 'messages: field required' });
    expectFailure((await collect(chat(provider, subject.model, 'hi'))).error, 'auth');
    const bad = expectFailure((await collect(chat(provider, subject.model, 'hi'))).error, 'bad_request');
    expect(bad.retryable).toBe(false);
  });

  it('classifies a refused connection as connection', async () => {
    await fake.close();
    const result = await collect(chat(provider, subject.model, 'hi'));
    const err = expectFailure(result.error, 'connection');
    expect(err.retryable).toBe(true);
  });

  it('classifies an unparsable frame as malformed', async () => {
    fake.script({ answer: 'this will not be read', malformed: true });
    const result = await collect(chat(provider, subject.model, 'hi'));
    expectFailure(result.error, 'malformed');
    expect(result.done).toBeNull();
  });

  it('fails after some text when the stream is cut mid-way', async () => {
    fake.script({ answer: 'one two three four five six', cutAfterChunks: 3 });
    const result = await collect(chat(provider, subject.model, 'hi'));
    expect(result.texts.length).toBeGreaterThan(0);
    expect(result.text.length).toBeLessThan('one two three four five six'.length);
    expectFailure(result.error, 'connection');
    expect(result.done).toBeNull();
  });

  it('fails with server when the stream carries an error frame', async () => {
    fake.script({ answer: 'partial answer here', errorAfterChunks: 2, errorMessage: 'overloaded' });
    const result = await collect(chat(provider, subject.model, 'hi'));
    expect(result.text).toBe('partial ');
    expectFailure(result.error, 'server');
  });

  it('fails (not hangs) when the server closes during a stall', async () => {
    fake.script({ answer: 'never finished', stallAfterChunks: 1 });
    const pending = collect(chat(provider, subject.model, 'hi'), () => void fake.close());
    const result = await pending;
    expect(result.texts.length).toBe(1);
    expectFailure(result.error, 'connection');
  });

  it('stops promptly on abort mid-stream and closes the HTTP stream', async () => {
    fake.script({ answer: 'y'.repeat(400), chunkSize: 4, delayMs: 20 });
    const controller = new AbortController();
    const result = await collect(chat(provider, subject.model, 'hi', { signal: controller.signal }), (_t, i) => {
      if (i === 1) controller.abort();
    });
    expectFailure(result.error, 'aborted');
    expect(result.texts.length).toBeLessThan(5); // of 100
    const record = fake.chatRequests()[0]!;
    expect(await settlesWithin(record.settled, HANGUP_MS)).toBe(true);
    expect(record.disconnected).toBe(true);
  });

  it('stops promptly on abort while waiting for the first token', async () => {
    fake.script({ stallBeforeFirstTokenMs: Infinity });
    const controller = new AbortController();
    const pending = collect(chat(provider, subject.model, 'hi', { signal: controller.signal }));
    const record = await until(() => fake.chatRequests()[0]);
    controller.abort(new Error('first-token timeout'));
    const result = await pending;
    expectFailure(result.error, 'aborted');
    expect(result.elapsedMs).toBeLessThan(PROMPTLY_MS); // the stall is endless
    expect(await settlesWithin(record.settled, HANGUP_MS)).toBe(true);
  });

  it('stops promptly on abort before the response headers arrive', async () => {
    fake.script({ stallBeforeHeadersMs: Infinity });
    const controller = new AbortController();
    const pending = collect(chat(provider, subject.model, 'hi', { signal: controller.signal }));
    const record = await until(() => fake.chatRequests()[0]);
    controller.abort();
    const result = await pending;
    expectFailure(result.error, 'aborted');
    expect(result.elapsedMs).toBeLessThan(PROMPTLY_MS); // the stall is endless
    expect(await settlesWithin(record.settled, HANGUP_MS)).toBe(true);
    expect(record.disconnected).toBe(true);
  });

  it('sends nothing when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await collect(chat(provider, subject.model, 'hi', { signal: controller.signal }));
    expectFailure(result.error, 'aborted');
    expect(fake.requests).toHaveLength(0);
  });

  it('closes the HTTP stream when the consumer stops reading early', async () => {
    fake.script({ answer: 'z'.repeat(400), chunkSize: 4, delayMs: 10 });
    for await (const chunk of chat(provider, subject.model, 'hi')) {
      if (chunk.type === 'text') break;
    }
    const record = fake.chatRequests()[0]!;
    expect(await settlesWithin(record.settled, HANGUP_MS)).toBe(true);
    expect(record.disconnected).toBe(true);
  });

  it('lists the models the server knows', async () => {
    fake.models = [subject.model, 'second-model'];
    const models = await provider.listModels();
    const names = models.map((m) => m.name.replace(/:latest$/, ''));
    expect(names).toEqual([subject.model, 'second-model']);
  });

  it('aborts a model listing that hangs', async () => {
    fake.scriptFor('models', { stallBeforeHeadersMs: Infinity });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    expectFailure(await rejection(provider.listModels(controller.signal)), 'aborted');
  });

  it('classifies a failing model listing', async () => {
    fake.scriptFor('models', { status: 503, retryAfter: 1 });
    const err = expectFailure(await rejection(provider.listModels()), 'server');
    expect(err.retryAfterMs).toBe(1000);
  });
});
