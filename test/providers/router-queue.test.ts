/**
 * A turn waiting for a busy provider's slot is bound by the first-token timeout like a silent
 * model: the real OpenAI SDK against the fake server, one slot, one answer holding it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOpenAIProvider } from '../../src/core/providers/openai.js';
import { ProviderRouter, type ProviderCall, type StreamRequest } from '../../src/core/providers/router.js';
import { startFakeOpenAI, type FakeProviderServer } from '../fakes/providers.js';

const FIRST_TOKEN_TIMEOUT_MS = 1_000;

describe(`${ProviderRouter.name} queue`, () => {
  let fake: FakeProviderServer;
  let router: ProviderRouter;

  beforeEach(async () => {
    fake = await startFakeOpenAI();
    const provider = createOpenAIProvider({ name: 'oa', baseURL: fake.url });
    router = new ProviderRouter(new Map([['oa', provider]]), {
      retries: 2,
      retryBaseDelayMs: 5,
      firstTokenTimeoutMs: FIRST_TOKEN_TIMEOUT_MS,
      // far away: only the first-token timeout may end the wait
      totalTimeoutMs: 120_000,
      limits: { oa: { maxConcurrent: 1, requestsPerMinute: null } },
    });
  });

  afterEach(async () => {
    await router.stop();
    await fake.close();
  });

  const ask = (extra: Partial<StreamRequest> = {}) => router.stream({ candidates: ['oa/gpt-4o-mini'], messages: [{ role: 'user', content: 'hello' }], params: {}, ...extra });

  it('should fail a call still waiting for the slot at the first-token timeout, and never send it later', async () => {
    // the first answer starts, then holds the only slot until it is stopped
    fake.script({ answer: 'a long answer that stalls', chunkSize: 4, stallAfterChunks: 1 });
    const holder = new AbortController();
    let started!: () => void;
    const firstToken = new Promise<void>((resolve) => (started = resolve));
    const first = ask({ signal: holder.signal, onText: () => started() });
    await firstToken;

    const calls: ProviderCall[] = [];
    const waiting = await ask({ onCall: (call) => calls.push(call) });
    expect(waiting.status).toBe('error');
    expect(waiting.error?.failure).toBe('timeout');
    expect(waiting.error?.userMessage).toBe('the model took too long to answer');
    expect(waiting.failures.map((f) => f.error.failure)).toEqual(['timeout']);
    expect(calls).toEqual([]);

    holder.abort();
    expect((await first).status).toBe('aborted');
    // the slot is free again: a new call is served, and the withdrawn one was never sent before it
    fake.script({ answer: 'next' });
    expect((await ask()).text).toBe('next');
    expect(fake.chatRequests()).toHaveLength(2);
    expect(fake.chatRequests()[1]!.body.messages).toEqual([{ role: 'user', content: 'hello' }]);
  });

  it('should count the wait for the slot toward the first-token timeout of a call that does get it', async () => {
    fake.script({ answer: 'first', stallBeforeFirstTokenMs: FIRST_TOKEN_TIMEOUT_MS / 2 }, { answer: 'second', stallBeforeFirstTokenMs: FIRST_TOKEN_TIMEOUT_MS * 0.9 });
    const first = ask();
    const second = await ask();
    expect((await first).text).toBe('first');
    // alone, the second model would have answered in time; after its wait in the queue it did not
    expect(second.status).toBe('error');
    expect(second.error?.failure).toBe('timeout');
  });
});
