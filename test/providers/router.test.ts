/**
 * The router against the real providers (official SDKs) talking to the fake servers: which model
 * answers, what text arrives, and how each kind of trouble ends.
 */
import net, { type AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProviderFailure } from '../../src/core/errors.js';
import { createAnthropicProvider } from '../../src/core/providers/anthropic.js';
import { createOllamaProvider } from '../../src/core/providers/ollama.js';
import { createOpenAIProvider } from '../../src/core/providers/openai.js';
import {
  ProviderRouter,
  type ProviderCall,
  type RouterOptions,
  type StreamOutcome,
  type StreamRequest,
} from '../../src/core/providers/router.js';
import type { Provider } from '../../src/core/providers/types.js';
import {
  startFakeAnthropic,
  startFakeOllama,
  startFakeOpenAI,
  type FakeBehaviour,
  type FakeProviderServer,
  type FakeServerOptions,
} from '../fakes/providers.js';
import { settlesWithin } from './helpers.js';

/**
 * Fast defaults: tiny backoff, fixed jitter, and timeouts no healthy fake can reach even on a
 * loaded machine (a test about a timeout sets its own).
 */
const FAST: RouterOptions = {
  retries: 2,
  retryBaseDelayMs: 5,
  firstTokenTimeoutMs: 15_000,
  totalTimeoutMs: 15_000,
  maxRetryAfterMs: 2_000,
  random: () => 0.5,
};

/** How long the fake may take to see a client hang up: a bound for a broken hang-up, not a speed test. */
const HANGUP_MS = 10_000;

const PRIMARY = 'oa/gpt-4o-mini';
const BACKUP = 'ob/gpt-4o';

interface Run {
  outcome: StreamOutcome;
  texts: string[];
  calls: ProviderCall[];
  attempts: Array<{ modelId: string; at: number }>;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A URL on 127.0.0.1 where nothing listens. */
async function closedPortUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}

function failuresOf(outcome: StreamOutcome): Array<[string, ProviderFailure]> {
  return outcome.failures.map((f) => [f.modelId, f.error.failure]);
}

describe(ProviderRouter.name, () => {
  let fakes: FakeProviderServer[];
  let routers: ProviderRouter[];
  let primary: FakeProviderServer;
  let backup: FakeProviderServer;

  async function openai(options: FakeServerOptions = {}): Promise<FakeProviderServer> {
    const fake = await startFakeOpenAI(options);
    fakes.push(fake);
    return fake;
  }

  /** A router over `oa` (primary fake), `ob` (backup fake) and any extra providers. */
  function makeRouter(options: Partial<RouterOptions> = {}, extra: Provider[] = []): ProviderRouter {
    const providers: Provider[] = [
      createOpenAIProvider({ name: 'oa', baseURL: primary.url }),
      createOpenAIProvider({ name: 'ob', baseURL: backup.url }),
      ...extra,
    ];
    const router = new ProviderRouter(new Map(providers.map((p) => [p.name, p])), { ...FAST, ...options });
    routers.push(router);
    return router;
  }

  async function run(router: ProviderRouter, candidates: string[], extra: Partial<StreamRequest> = {}): Promise<Run> {
    const texts: string[] = [];
    const calls: ProviderCall[] = [];
    const attempts: Run['attempts'] = [];
    const outcome = await router.stream({
      candidates,
      messages: [{ role: 'user', content: 'hello' }],
      params: {},
      ...extra,
      onText: (delta) => {
        texts.push(delta);
        extra.onText?.(delta);
      },
      onCall: (call) => {
        calls.push(call);
        extra.onCall?.(call);
      },
      onAttempt: (modelId) => {
        attempts.push({ modelId, at: performance.now() });
        extra.onAttempt?.(modelId);
      },
    });
    return { outcome, texts, calls, attempts };
  }

  beforeEach(async () => {
    fakes = [];
    routers = [];
    primary = await openai({ defaultAnswer: 'primary answer' });
    backup = await openai({ defaultAnswer: 'backup answer' });
  });

  afterEach(async () => {
    await Promise.all(routers.map((r) => r.stop()));
    await Promise.all(fakes.map((f) => f.close()));
  });

  describe('success', () => {
    it('should stream the text in order and report usage, stop reason and one ok call', async () => {
      primary.script({ answer: 'Hello there, friend.', usage: { input: 12, output: 5 } });
      const { outcome, texts, calls } = await run(makeRouter(), [PRIMARY, BACKUP]);

      expect(texts.length).toBeGreaterThan(3);
      expect(texts.join('')).toBe('Hello there, friend.');
      expect(outcome).toMatchObject({
        modelId: PRIMARY,
        text: 'Hello there, friend.',
        usage: { inputTokens: 12, outputTokens: 5 },
        stopReason: 'stop',
        status: 'ok',
        error: null,
        failures: [],
      });
      expect(outcome.ttftMs).toEqual(expect.any(Number));
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({
        modelId: PRIMARY,
        provider: 'oa',
        model: 'gpt-4o-mini',
        status: 'ok',
        usage: { inputTokens: 12, outputTokens: 5 },
        outputText: 'Hello there, friend.',
        error: null,
      });
      expect(calls[0]!.ttftMs).toEqual(expect.any(Number));
      expect(backup.requests).toHaveLength(0);
    });

    it('should report usage null when the provider sent none', async () => {
      primary.script({ answer: 'no figures', usage: null });
      const { outcome, calls } = await run(makeRouter(), [PRIMARY]);
      expect(outcome).toMatchObject({ status: 'ok', text: 'no figures', usage: null });
      expect(calls[0]).toMatchObject({ status: 'ok', usage: null, outputText: 'no figures' });
    });

    it('should try a model listed twice only once', async () => {
      primary.script({ status: 401 });
      const { outcome } = await run(makeRouter(), [PRIMARY, PRIMARY]);
      expect(outcome.status).toBe('error');
      expect(primary.chatRequests()).toHaveLength(1);
    });
  });

  describe('retry', () => {
    it('should retry a 500 on the same model and answer from it', async () => {
      primary.script({ status: 500 }, { answer: 'second time lucky' });
      const { outcome, calls } = await run(makeRouter(), [PRIMARY, BACKUP]);

      expect(outcome).toMatchObject({ status: 'ok', modelId: PRIMARY, text: 'second time lucky', failures: [] });
      expect(primary.chatRequests()).toHaveLength(2);
      expect(backup.requests).toHaveLength(0);
      expect(calls.map((c) => [c.modelId, c.status, c.error?.failure ?? null])).toEqual([
        [PRIMARY, 'error', 'server'],
        [PRIMARY, 'ok', null],
      ]);
    });

    it('should honour a 429 retry-after of one second before trying the same model again', async () => {
      primary.script({ status: 429, retryAfter: 1 }, { answer: 'after the pause' });
      const { outcome, attempts } = await run(makeRouter(), [PRIMARY, BACKUP]);

      expect(outcome).toMatchObject({ status: 'ok', modelId: PRIMARY, text: 'after the pause' });
      expect(primary.chatRequests()).toHaveLength(2);
      expect(attempts.map((a) => a.modelId)).toEqual([PRIMARY, PRIMARY]);
      expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(900);
    });

    it('should move to the next model without waiting when retry-after exceeds maxRetryAfterMs', async () => {
      primary.script({ status: 429, retryAfter: 30 });
      const { outcome } = await run(makeRouter({ maxRetryAfterMs: 2_000 }), [PRIMARY, BACKUP]);

      expect(outcome).toMatchObject({ status: 'ok', modelId: BACKUP, text: 'backup answer' });
      expect(failuresOf(outcome)).toEqual([[PRIMARY, 'rate_limited']]);
      expect(primary.chatRequests()).toHaveLength(1);
      expect(outcome.latencyMs).toBeLessThan(10_000); // not the 30 s asked for
    });

    it('should move to the next model once the retries are exhausted', async () => {
      primary.script({ status: 500 }, { status: 502 }, { status: 503 }, { answer: 'never reached' });
      const { outcome } = await run(makeRouter({ retries: 2 }), [PRIMARY, BACKUP]);

      expect(primary.chatRequests()).toHaveLength(3);
      expect(outcome).toMatchObject({ status: 'ok', modelId: BACKUP, text: 'backup answer' });
      expect(failuresOf(outcome)).toEqual([[PRIMARY, 'server']]);
      expect(outcome.failures[0]!.error.status).toBe(503);
    });

    it('should not retry at all with retries: 0', async () => {
      primary.script({ status: 500 }, { answer: 'a retry would get this' });
      const { outcome } = await run(makeRouter({ retries: 0 }), [PRIMARY, BACKUP]);

      expect(primary.chatRequests()).toHaveLength(1);
      expect(outcome).toMatchObject({ status: 'ok', modelId: BACKUP, text: 'backup answer' });
    });
  });

  describe('fallback before the first token', () => {
    it('should fall back when the connection is refused', async () => {
      const dead = createOpenAIProvider({ name: 'dead', baseURL: await closedPortUrl() });
      const { outcome, calls } = await run(makeRouter({ retries: 1 }, [dead]), ['dead/gpt-4o-mini', BACKUP]);

      expect(outcome).toMatchObject({ status: 'ok', modelId: BACKUP, text: 'backup answer' });
      expect(failuresOf(outcome)).toEqual([['dead/gpt-4o-mini', 'connection']]);
      // connection failures are retried first
      expect(calls.map((c) => [c.modelId, c.status])).toEqual([
        ['dead/gpt-4o-mini', 'error'],
        ['dead/gpt-4o-mini', 'error'],
        [BACKUP, 'ok'],
      ]);
    });

    it('should fall back after a 5xx', async () => {
      primary.script({ status: 503 });
      const { outcome } = await run(makeRouter({ retries: 0 }), [PRIMARY, BACKUP]);

      expect(outcome).toMatchObject({ status: 'ok', modelId: BACKUP, text: 'backup answer' });
      expect(failuresOf(outcome)).toEqual([[PRIMARY, 'server']]);
    });

    it('should fall back after 429s outlast the retries', async () => {
      primary.script({ status: 429, retryAfterMs: 10 }, { status: 429, retryAfterMs: 10 }, { status: 429, retryAfterMs: 10 });
      const { outcome } = await run(makeRouter({ retries: 2 }), [PRIMARY, BACKUP]);

      expect(primary.chatRequests()).toHaveLength(3);
      expect(outcome).toMatchObject({ status: 'ok', modelId: BACKUP, text: 'backup answer' });
      expect(failuresOf(outcome)).toEqual([[PRIMARY, 'rate_limited']]);
    });

    it('should fall back when no first token arrives within firstTokenTimeoutMs', async () => {
      primary.script({ stallBeforeFirstTokenMs: Infinity });
      // the backup's first token runs under the same timeout, so it cannot be tiny on a loaded machine
      const { outcome } = await run(makeRouter({ firstTokenTimeoutMs: 3_000 }), [PRIMARY, BACKUP]);

      expect(outcome).toMatchObject({ status: 'ok', modelId: BACKUP, text: 'backup answer' });
      expect(failuresOf(outcome)).toEqual([[PRIMARY, 'timeout']]);
      expect(primary.chatRequests()).toHaveLength(1); // a timeout is not retried
      const stalled = primary.chatRequests()[0]!;
      expect(await settlesWithin(stalled.settled, HANGUP_MS)).toBe(true);
      expect(stalled.disconnected).toBe(true);
      expect(outcome.latencyMs).toBeLessThan(10_000); // not the 30 s a default would wait
    });

    it('should fall back when the model does not exist (404)', async () => {
      const { outcome } = await run(makeRouter(), ['oa/gpt-imaginary', BACKUP]);

      expect(outcome).toMatchObject({ status: 'ok', modelId: BACKUP, text: 'backup answer' });
      expect(failuresOf(outcome)).toEqual([['oa/gpt-imaginary', 'unknown_model']]);
      expect(primary.chatRequests()).toHaveLength(1);
    });

    it('should fall back when no provider has that name', async () => {
      const { outcome, calls } = await run(makeRouter(), ['nowhere/gpt-4o', BACKUP]);

      expect(outcome).toMatchObject({ status: 'ok', modelId: BACKUP, text: 'backup answer' });
      expect(failuresOf(outcome)).toEqual([['nowhere/gpt-4o', 'unknown_model']]);
      expect(outcome.failures[0]!.error.message).toContain('nowhere');
      expect(calls.map((c) => c.modelId)).toEqual([BACKUP]); // nothing was called for it
    });

    it('should fall back when the stream cannot be parsed', async () => {
      primary.script({ malformed: true, answer: 'unreadable' });
      const { outcome, texts } = await run(makeRouter(), [PRIMARY, BACKUP]);

      expect(outcome).toMatchObject({ status: 'ok', modelId: BACKUP, text: 'backup answer' });
      expect(texts.join('')).toBe('backup answer');
      expect(failuresOf(outcome)).toEqual([[PRIMARY, 'malformed']]);
      expect(primary.chatRequests()).toHaveLength(1);
    });

    it('should fall back without retrying when credentials are refused (401)', async () => {
      primary.script({ status: 401 }, { answer: 'a retry would get this' });
      const { outcome } = await run(makeRouter({ retries: 2 }), [PRIMARY, BACKUP]);

      expect(outcome).toMatchObject({ status: 'ok', modelId: BACKUP, text: 'backup answer' });
      expect(failuresOf(outcome)).toEqual([[PRIMARY, 'auth']]);
      expect(primary.chatRequests()).toHaveLength(1);
    });

    it('should go across providers: openai → anthropic → ollama', async () => {
      const anthropicFake = await startFakeAnthropic();
      const ollamaFake = await startFakeOllama();
      fakes.push(anthropicFake, ollamaFake);
      primary.script({ status: 401 });
      anthropicFake.script({ status: 529, errorType: 'overloaded_error' });
      ollamaFake.script({ answer: 'llama to the rescue', usage: { input: 9, output: 4 } });
      const router = makeRouter({ retries: 0 }, [
        createAnthropicProvider({ name: 'an', baseURL: anthropicFake.url, apiKey: 'sk-test' }),
        createOllamaProvider({ name: 'ol', host: ollamaFake.url }),
      ]);

      const { outcome, texts, calls } = await run(router, [PRIMARY, 'an/claude-haiku-4-5', 'ol/llama3.2']);

      expect(outcome).toMatchObject({
        status: 'ok',
        modelId: 'ol/llama3.2',
        text: 'llama to the rescue',
        usage: { inputTokens: 9, outputTokens: 4 },
        stopReason: 'stop',
      });
      expect(texts.join('')).toBe('llama to the rescue');
      expect(failuresOf(outcome)).toEqual([
        [PRIMARY, 'auth'],
        ['an/claude-haiku-4-5', 'server'],
      ]);
      expect(calls.map((c) => [c.provider, c.status])).toEqual([
        ['oa', 'error'],
        ['an', 'error'],
        ['ol', 'ok'],
      ]);
    });

    it('should answer from anthropic with its own stop reason when it is the fallback', async () => {
      const anthropicFake = await startFakeAnthropic();
      fakes.push(anthropicFake);
      anthropicFake.script({ answer: 'claude here', usage: { input: 7, output: 3 } });
      primary.script({ status: 404, errorMessage: 'The model `gpt-4o-mini` does not exist' });
      const router = makeRouter({}, [createAnthropicProvider({ name: 'an', baseURL: anthropicFake.url, apiKey: 'sk-test' })]);

      const { outcome } = await run(router, [PRIMARY, 'an/claude-haiku-4-5']);

      expect(outcome).toMatchObject({
        status: 'ok',
        modelId: 'an/claude-haiku-4-5',
        text: 'claude here',
        usage: { inputTokens: 7, outputTokens: 3 },
        stopReason: 'end_turn',
      });
      expect(failuresOf(outcome)).toEqual([[PRIMARY, 'unknown_model']]);
    });
  });

  describe('after the first token', () => {
    it('should keep the partial text of a stream cut mid-way and not fall back', async () => {
      primary.script({ answer: 'one two three four five six', cutAfterChunks: 3 });
      const { outcome, texts, calls } = await run(makeRouter(), [PRIMARY, BACKUP]);

      expect(outcome.status).toBe('partial');
      expect(outcome.modelId).toBe(PRIMARY);
      expect(outcome.text).toBe('one two thre');
      expect(texts.join('')).toBe('one two thre');
      expect(outcome.error?.failure).toBe('connection');
      expect(outcome.failures).toEqual([]);
      expect(primary.chatRequests()).toHaveLength(1); // not retried either: text was already shown
      expect(backup.requests).toHaveLength(0);
      expect(calls.map((c) => c.status)).toEqual(['partial']);
    });

    it('should end as partial with a timeout when the stream stalls beyond totalTimeoutMs', async () => {
      primary.script({ answer: 'abcdefghijklmnop', stallAfterChunks: 2 });
      // the first two chunks must arrive inside it, so it cannot be tiny on a loaded machine
      const { outcome } = await run(makeRouter({ totalTimeoutMs: 3_000 }), [PRIMARY, BACKUP]);

      expect(outcome).toMatchObject({ status: 'partial', modelId: PRIMARY, text: 'abcdefgh', usage: null });
      expect(outcome.error?.failure).toBe('timeout');
      expect(backup.requests).toHaveLength(0);
      const stalled = primary.chatRequests()[0]!;
      expect(await settlesWithin(stalled.settled, HANGUP_MS)).toBe(true);
      expect(stalled.disconnected).toBe(true);
      expect(outcome.latencyMs).toBeLessThan(10_000);
    });
  });

  describe('abort', () => {
    it('should stop mid-stream, keep the text so far, hang up and not fall back', async () => {
      primary.script({ answer: 'y'.repeat(400), delayMs: 20 });
      const controller = new AbortController();
      let seen = 0;
      const { outcome, texts, calls } = await run(makeRouter(), [PRIMARY, BACKUP], {
        signal: controller.signal,
        onText: () => {
          if (++seen === 2) controller.abort();
        },
      });

      expect(outcome.status).toBe('aborted');
      expect(outcome.modelId).toBe(PRIMARY);
      expect(outcome.text.length).toBeGreaterThan(0);
      expect(outcome.text.length).toBeLessThan(400);
      expect(outcome.text).toBe(texts.join(''));
      expect(outcome.error?.failure).toBe('aborted');
      const record = primary.chatRequests()[0]!;
      expect(await settlesWithin(record.settled, HANGUP_MS)).toBe(true);
      expect(record.disconnected).toBe(true);
      expect(primary.chatRequests()).toHaveLength(1);
      expect(backup.requests).toHaveLength(0);
      // the ledger still hears about the tokens that were streamed
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ status: 'partial', outputText: outcome.text });
    });

    it('should send nothing when aborted before the start', async () => {
      const controller = new AbortController();
      controller.abort();
      const { outcome, calls } = await run(makeRouter(), [PRIMARY, BACKUP], { signal: controller.signal });

      expect(outcome).toMatchObject({ status: 'aborted', text: '' });
      expect(primary.requests).toHaveLength(0);
      expect(backup.requests).toHaveLength(0);
      expect(calls).toEqual([]);
    });

    it('should stop waiting out a retry-after when aborted', async () => {
      primary.script({ status: 429, retryAfter: 60 });
      const controller = new AbortController();
      const { outcome } = await run(makeRouter({ maxRetryAfterMs: 120_000 }), [PRIMARY, BACKUP], {
        signal: controller.signal,
        // the 429 is reported just before the pause starts: abort once it has
        onCall: () => void setTimeout(() => controller.abort(), 0),
      });

      expect(outcome.status).toBe('aborted');
      expect(primary.chatRequests()).toHaveLength(1);
      expect(backup.requests).toHaveLength(0);
      expect(outcome.latencyMs).toBeLessThan(15_000); // not the 60 s asked for
    });
  });

  describe('all candidates fail', () => {
    it('should end with status error and the last failure, without throwing', async () => {
      primary.script({ status: 500 }, { status: 500 });
      backup.script({ status: 401 });
      const pending = run(makeRouter({ retries: 1 }), [PRIMARY, BACKUP]);
      await expect(pending).resolves.toBeDefined();
      const { outcome } = await pending;

      expect(outcome).toMatchObject({ status: 'error', modelId: BACKUP, text: '', usage: null });
      expect(outcome.error?.failure).toBe('auth');
      expect(outcome.error).toBe(outcome.failures.at(-1)!.error);
      expect(failuresOf(outcome)).toEqual([
        [PRIMARY, 'server'],
        [BACKUP, 'auth'],
      ]);
    });

    it('should end with status error when no candidate has a provider, or there are none', async () => {
      const router = makeRouter();
      const unknown = await run(router, ['x/one', 'y/two']);
      expect(unknown.outcome.status).toBe('error');
      expect(unknown.outcome.error?.failure).toBe('unknown_model');
      expect(unknown.outcome.failures.map((f) => f.modelId)).toEqual(['x/one', 'y/two']);

      const none = await run(router, []);
      expect(none.outcome).toMatchObject({ status: 'error', modelId: null });
      expect(none.outcome.error).not.toBeNull();
    });
  });

  describe('limits', () => {
    it('should never overlap two streams on a provider limited to maxConcurrent 1', async () => {
      const events: string[] = [];
      let arrived = 0;
      const slow = await openai({
        defaultAnswer: (record) => {
          const n = ++arrived;
          events.push(`start ${n}`);
          void record.settled.then(() => events.push(`end ${n}`));
          return 'a slow answer';
        },
      });
      slow.script({ delayMs: 30 }, { delayMs: 30 });
      const router = makeRouter({ limits: { slow: { maxConcurrent: 1, requestsPerMinute: null } } }, [
        createOpenAIProvider({ name: 'slow', baseURL: slow.url }),
      ]);

      const [a, b] = await Promise.all([run(router, ['slow/gpt-4o-mini']), run(router, ['slow/gpt-4o-mini'])]);

      expect([a.outcome.status, b.outcome.status]).toEqual(['ok', 'ok']);
      expect([a.outcome.text, b.outcome.text]).toEqual(['a slow answer', 'a slow answer']);
      expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
    });

    it('should let a call that waits for its turn be aborted without sending it', async () => {
      primary.script({ answer: 'z'.repeat(40), delayMs: 20 });
      const router = makeRouter({ limits: { oa: { maxConcurrent: 1, requestsPerMinute: null } } });
      const controller = new AbortController();
      const first = run(router, [PRIMARY]);
      const second = run(router, [PRIMARY, BACKUP], { signal: controller.signal });
      await delay(50);
      controller.abort();

      const waited = await second;
      expect(waited.outcome.status).toBe('aborted');
      expect(waited.calls).toEqual([]);
      expect(backup.requests).toHaveLength(0);
      expect((await first).outcome).toMatchObject({ status: 'ok', text: 'z'.repeat(40) });
      expect(primary.chatRequests()).toHaveLength(1);
    });

    it('should hold back a third call within the minute at requestsPerMinute 2, and drop it on stop', async () => {
      const router = makeRouter({ limits: { oa: { maxConcurrent: 4, requestsPerMinute: 2 } } });
      const firstTwo = await Promise.all([run(router, [PRIMARY]), run(router, [PRIMARY])]);
      expect(firstTwo.map((r) => r.outcome.status)).toEqual(['ok', 'ok']);

      const third = run(router, [PRIMARY]);
      // another provider is not held back by oa's limit
      expect((await run(router, [BACKUP])).outcome.status).toBe('ok');
      await delay(300);
      expect(primary.chatRequests()).toHaveLength(2);

      await router.stop();
      expect(await settlesWithin(third, HANGUP_MS)).toBe(true);
      const { outcome, calls } = await third;
      expect(outcome.status).toBe('aborted');
      expect(calls).toEqual([]);
      expect(primary.chatRequests()).toHaveLength(2);
    });
  });

  describe('usage', () => {
    it('should report one call per attempt: failed ones as error, a cut one as partial', async () => {
      primary.script({ status: 500 }, { status: 500 });
      backup.script({ answer: 'partial words here', cutAfterChunks: 2 });
      const { outcome, calls } = await run(makeRouter({ retries: 1 }), [PRIMARY, BACKUP]);

      expect(outcome).toMatchObject({ status: 'partial', modelId: BACKUP, text: 'partial ' });
      expect(calls.map((c) => [c.modelId, c.status, c.error?.failure ?? null, c.outputText, c.usage])).toEqual([
        [PRIMARY, 'error', 'server', '', null],
        [PRIMARY, 'error', 'server', '', null],
        [BACKUP, 'partial', 'connection', 'partial ', null],
      ]);
      expect(calls[0]!.ttftMs).toBeNull();
      expect(calls[1]!.ttftMs).toBeNull();
      expect(calls[2]!.ttftMs).toEqual(expect.any(Number));
      for (const call of calls) expect(call.latencyMs).toBeGreaterThanOrEqual(0);
    });
  });

  describe('unhandled rejections', () => {
    it('should settle a burst of 50 mixed streams, each as expected, with nothing left unhandled', async () => {
      const failing = await openai();
      const cutting = await openai();
      const stalling = await openai();
      const slow = await openai();
      failing.script(...Array.from({ length: 40 }, (): FakeBehaviour => ({ status: 500 })));
      cutting.script(...Array.from({ length: 20 }, (): FakeBehaviour => ({ answer: 'cut after this', cutAfterChunks: 1 })));
      stalling.script(...Array.from({ length: 20 }, (): FakeBehaviour => ({ stallBeforeFirstTokenMs: Infinity })));
      slow.script(...Array.from({ length: 20 }, (): FakeBehaviour => ({ answer: 'w'.repeat(200), delayMs: 10 })));
      const wide = { maxConcurrent: 50, requestsPerMinute: null };
      const limits = { oa: wide, ob: wide, failing: wide, cutting: wide, stalling: wide, slow: wide, dead: wide };
      // the stalls end by a short first-token timeout on a router of their own, in the same burst:
      // on a shared one that timeout would also bind the healthy streams, which a loaded machine can miss
      const router = makeRouter({ retries: 1, limits }, [
        createOpenAIProvider({ name: 'failing', baseURL: failing.url }),
        createOpenAIProvider({ name: 'cutting', baseURL: cutting.url }),
        createOpenAIProvider({ name: 'slow', baseURL: slow.url }),
        createOpenAIProvider({ name: 'dead', baseURL: await closedPortUrl() }),
      ]);
      const stallRouter = makeRouter({ retries: 1, limits, firstTokenTimeoutMs: 300, totalTimeoutMs: 60_000 }, [
        createOpenAIProvider({ name: 'stalling', baseURL: stalling.url }),
      ]);

      const kinds = [
        { candidates: [PRIMARY], status: 'ok' },
        { candidates: ['failing/gpt-4o-mini', BACKUP], status: 'ok' },
        { candidates: ['cutting/gpt-4o-mini', BACKUP], status: 'partial' },
        { candidates: ['slow/gpt-4o-mini', BACKUP], status: 'aborted', abort: true },
        { candidates: ['dead/gpt-4o-mini', 'ob/no-such-model'], status: 'error' },
        { candidates: ['stalling/gpt-4o-mini', 'nowhere/x'], status: 'error', stalls: true },
      ] as const;

      const runs = Array.from({ length: 50 }, (_, i) => {
        const kind = kinds[i % kinds.length]!;
        const controller = new AbortController();
        return run('stalls' in kind ? stallRouter : router, [...kind.candidates], {
          signal: controller.signal,
          onText: () => {
            if ('abort' in kind) controller.abort();
          },
        }).then((r) => ({
          candidates: kind.candidates.join(' → '),
          expected: kind.status,
          actual: r.outcome.status,
          error: r.outcome.error?.message ?? null,
          failures: failuresOf(r.outcome).map(([modelId, failure]) => `${modelId}: ${failure}`),
          calls: r.calls.map((c) => c.modelId),
        }));
      });
      const results = await Promise.all(runs);

      const wrong = results.filter((r) => r.actual !== r.expected);
      expect(wrong).toEqual([]);
      // each stall ended by its first-token timeout, which is not retried (the fake may not even have
      // seen the request when the timeout cut it on a loaded machine, so count the router's calls)
      const stalls = results.filter((r) => r.candidates.startsWith('stalling/'));
      expect(stalls.map((r) => [r.failures, r.calls])).toEqual(
        stalls.map(() => [['stalling/gpt-4o-mini: timeout', 'nowhere/x: unknown_model'], ['stalling/gpt-4o-mini']]),
      );
      const slowRequests = slow.chatRequests();
      expect(slowRequests.length).toBeGreaterThan(0);
      expect(await Promise.all(slowRequests.map((r) => settlesWithin(r.settled, HANGUP_MS)))).not.toContain(false);
      expect(slowRequests.every((r) => r.disconnected)).toBe(true);
      // give late rejections a macrotask to surface inside this test, where the guard checks
      await delay(50);
    });
  });
});
