import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RateLimitError } from './errors.js';
import type { PostOptions, Reply, ReplyCapabilities } from './inbound.js';
import { NO_ANSWER_TEXT, StreamRenderer } from './stream.js';

interface Call {
  kind: 'post' | 'edit';
  id: string;
  text: string;
  options: PostOptions | undefined;
  startedAt: number;
  ok: boolean;
}

/** A chat platform that takes `latencyMs` per request and records what it was asked to do. */
class FakeChat implements Reply {
  readonly capabilities: ReplyCapabilities;
  readonly calls: Call[] = [];
  readonly typingAt: number[] = [];
  readonly messages = new Map<string, { text: string; options: PostOptions | undefined }>();
  latencyMs = 40;
  fails: (call: Call) => boolean = () => false;
  inFlight = 0;
  maxInFlight = 0;

  constructor(capabilities: Partial<ReplyCapabilities> = {}) {
    this.capabilities = {
      maxMessageLength: 2000,
      minEditIntervalMs: 1000,
      markdown: 'commonmark',
      buttons: true,
      threads: true,
      ...capabilities,
    };
  }

  post(text: string, options?: PostOptions): Promise<string> {
    return this.request({ kind: 'post', id: `msg-${this.messages.size + 1}`, text, options });
  }

  async edit(messageId: string, text: string, options?: PostOptions): Promise<void> {
    if (!this.messages.has(messageId)) throw new Error(`no message ${messageId}`);
    await this.request({ kind: 'edit', id: messageId, text, options });
  }

  async typing(): Promise<void> {
    this.typingAt.push(Date.now());
  }

  /** Final texts of the answer's messages, in posting order. */
  get texts(): string[] {
    return [...this.messages.values()].map((message) => message.text);
  }

  private async request(request: Omit<Call, 'startedAt' | 'ok'>): Promise<string> {
    const call: Call = { ...request, startedAt: Date.now(), ok: true };
    this.calls.push(call);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    this.inFlight--;
    if (this.fails(call)) {
      call.ok = false;
      throw new RateLimitError('429 from the platform', 700);
    }
    this.messages.set(call.id, { text: call.text, options: call.options });
    return call.id;
  }
}

async function streamAnswer(renderer: StreamRenderer, text: string, deltaLength = 7, everyMs = 10): Promise<void> {
  for (let at = 0; at < text.length; at += deltaLength) {
    renderer.push(text.slice(at, at + deltaLength));
    await vi.advanceTimersByTimeAsync(everyMs);
  }
}

async function finished<T>(promise: Promise<T>): Promise<T> {
  await vi.runAllTimersAsync();
  return promise;
}

const sentences = (count: number) =>
  Array.from({ length: count }, (_, n) => `Sentence ${n} explains one more step of the fix.`).join(' ');

describe(StreamRenderer.name, () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  describe('streaming', () => {
    it('should never edit faster than the platform allows, and end with the exact answer', async () => {
      const chat = new FakeChat({ minEditIntervalMs: 1000, maxMessageLength: 4000 });
      const renderer = new StreamRenderer(chat);
      const answer = sentences(60);
      await streamAnswer(renderer, answer, 5, 10);
      const streamed = chat.calls.length;
      const result = await finished(renderer.finish());

      const starts = chat.calls.slice(0, streamed).map((call) => call.startedAt);
      expect(starts.length).toBeGreaterThan(3);
      for (const start of starts) {
        expect(starts.filter((other) => other >= start && other < start + 1000)).toHaveLength(1);
      }
      expect(result.text).toBe(answer);
      expect(chat.texts).toEqual([answer]);
      expect(chat.maxInFlight).toBe(1);
    });

    it('should show typing until the first text, and never after', async () => {
      const chat = new FakeChat();
      const renderer = new StreamRenderer(chat, { typingIntervalMs: 8000 });
      renderer.start();
      expect(chat.typingAt).toEqual([0]);
      await vi.advanceTimersByTimeAsync(20_000);
      renderer.push('Hello');
      await vi.advanceTimersByTimeAsync(30_000);
      await finished(renderer.finish());
      expect(chat.typingAt).toEqual([0, 8000, 16_000]);
      expect(chat.calls[0]?.startedAt).toBe(20_000);
    });

    it('should show a cursor while streaming and drop it at the end', async () => {
      const chat = new FakeChat();
      const renderer = new StreamRenderer(chat, { cursor: ' ▌' });
      renderer.push('Checking the logs');
      await vi.advanceTimersByTimeAsync(100);
      expect(chat.texts).toEqual(['Checking the logs ▌']);
      await finished(renderer.finish());
      expect(chat.texts).toEqual(['Checking the logs']);
    });

    it('should flush at once on finish instead of waiting for the interval', async () => {
      const chat = new FakeChat({ minEditIntervalMs: 5000 });
      const renderer = new StreamRenderer(chat);
      renderer.push('First part.');
      await vi.advanceTimersByTimeAsync(100);
      renderer.push(' Second part.');
      const done = renderer.finish();
      await vi.advanceTimersByTimeAsync(100);
      await done;
      expect(chat.calls.map((call) => [call.kind, call.startedAt])).toEqual([
        ['post', 0],
        ['edit', 100],
      ]);
      expect(chat.texts).toEqual(['First part. Second part.']);
    });
  });

  describe('long answers', () => {
    it('should continue in new messages within the limit, keeping code fences intact', async () => {
      const chat = new FakeChat({ maxMessageLength: 500, minEditIntervalMs: 300 });
      const renderer = new StreamRenderer(chat, { cursor: ' ▌' });
      const code = Array.from({ length: 40 }, (_, n) => `    run("step ${n}")  # keep going`);
      const answer = [sentences(8), '', '```python', 'def main():', ...code, '```', '', sentences(6)].join('\n');
      await streamAnswer(renderer, answer, 9, 10);
      const result = await finished(renderer.finish());

      expect(chat.texts.length).toBeGreaterThanOrEqual(3);
      expect(result.messageIds).toEqual([...chat.messages.keys()]);
      for (const text of chat.texts) {
        expect(text.length).toBeLessThanOrEqual(500);
        expect(text.split('\n').filter((line) => line.startsWith('```')).length % 2).toBe(0);
        expect(text).not.toContain('▌');
      }
      const lines = chat.texts.flatMap((text) => text.split('\n'));
      expect(lines.filter((line) => line.startsWith('    run('))).toEqual(code);
      expect(result.text).toBe(answer);
    });

    it('should never edit a message again once the next one is posted', async () => {
      const chat = new FakeChat({ maxMessageLength: 300, minEditIntervalMs: 200 });
      const renderer = new StreamRenderer(chat);
      await streamAnswer(renderer, sentences(40), 3, 10);
      await finished(renderer.finish());
      const posts = chat.calls.filter((call) => call.kind === 'post');
      expect(posts.length).toBeGreaterThan(3);
      for (const [index, post] of posts.entries()) {
        const earlier = new Set(posts.slice(0, index).map((p) => p.id));
        const lateEdits = chat.calls.filter((c) => c.kind === 'edit' && earlier.has(c.id) && c.startedAt > post.startedAt);
        expect(lateEdits).toEqual([]);
      }
    });
  });

  describe('first post', () => {
    it('should post an answer that completes within the first-post delay once, already final', async () => {
      const chat = new FakeChat({ minEditIntervalMs: 1000 });
      const renderer = new StreamRenderer(chat, { firstPostDelayMs: 400, liveButtons: [{ action: 'stop', label: 'Stop' }] });
      renderer.start();
      renderer.push('Short ');
      await vi.advanceTimersByTimeAsync(100);
      renderer.push('answer.');
      await finished(renderer.finish({ buttons: [{ action: 'regen', label: 'Regenerate' }] }));
      expect(chat.calls.map((c) => [c.kind, c.text, c.options?.buttons?.map((b) => b.action)])).toEqual([['post', 'Short answer.', ['regen']]]);
    });

    it('should post a long-running answer after the delay, with the live buttons', async () => {
      const chat = new FakeChat({ minEditIntervalMs: 1000 });
      const renderer = new StreamRenderer(chat, { firstPostDelayMs: 400, liveButtons: [{ action: 'stop', label: 'Stop' }] });
      renderer.push('Thinking');
      await vi.advanceTimersByTimeAsync(399);
      expect(chat.calls).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(100);
      expect(chat.calls[0]).toMatchObject({ kind: 'post', text: 'Thinking' });
      expect(chat.calls[0]!.options?.buttons?.map((b) => b.action)).toEqual(['stop']);
      await finished(renderer.finish());
      expect(chat.calls.at(-1)!.options?.buttons).toEqual([]);
    });
  });

  describe('abandon', () => {
    it('should stop showing typing and write nothing more when a turn fails before its answer', async () => {
      const chat = new FakeChat();
      const renderer = new StreamRenderer(chat, { typingIntervalMs: 8000 });
      renderer.start();
      renderer.abandon();
      await vi.advanceTimersByTimeAsync(60_000);
      expect(chat.typingAt).toHaveLength(1);
      expect(chat.calls).toHaveLength(0);
    });
  });

  describe('finish', () => {
    it('should put the footer and the buttons on the last message only', async () => {
      const chat = new FakeChat({ maxMessageLength: 200 });
      const renderer = new StreamRenderer(chat);
      await streamAnswer(renderer, sentences(9));
      const buttons = [{ action: 'regen' as const, label: 'Regenerate' }];
      await finished(renderer.finish({ footer: '— answered by openai/gpt-4o-mini', buttons }));

      const messages = [...chat.messages.values()];
      expect(messages.length).toBeGreaterThan(1);
      expect(messages.at(-1)?.text).toMatch(/\n\n— answered by openai\/gpt-4o-mini$/);
      expect(messages.at(-1)?.options?.buttons).toEqual(buttons);
      for (const message of messages.slice(0, -1)) {
        expect(message.text).not.toContain('answered by');
        expect(message.options?.buttons).toBeUndefined();
      }
    });

    it('should post the footer alone when no text ever arrived', async () => {
      const chat = new FakeChat();
      const renderer = new StreamRenderer(chat);
      renderer.start();
      const result = await finished(renderer.finish({ footer: '⚠ stopped: partial answer' }));
      expect(chat.texts).toEqual(['⚠ stopped: partial answer']);
      expect(result).toEqual({ messageIds: ['msg-1'], text: '' });
    });

    it('should post a placeholder when there is neither text nor footer', async () => {
      const chat = new FakeChat();
      await finished(new StreamRenderer(chat).finish());
      expect(chat.texts).toEqual([NO_ANSWER_TEXT]);
    });

    it('should give the same result when called twice', async () => {
      const chat = new FakeChat();
      const renderer = new StreamRenderer(chat);
      renderer.push('Done.');
      const first = renderer.finish();
      const second = renderer.finish();
      await vi.runAllTimersAsync();
      expect(await second).toEqual(await first);
      expect(chat.calls).toHaveLength(1);
    });
  });

  describe('when the platform fails', () => {
    it('should still end with the right text when edits fail intermittently', async () => {
      const chat = new FakeChat({ maxMessageLength: 400, minEditIntervalMs: 250 });
      let count = 0;
      chat.fails = () => ++count % 3 === 0;
      const renderer = new StreamRenderer(chat);
      const answer = sentences(25);
      await streamAnswer(renderer, answer, 4, 10);
      const result = await finished(renderer.finish({ footer: '— answered by ollama/llama3.2' }));

      expect(chat.calls.some((call) => !call.ok)).toBe(true);
      expect(chat.maxInFlight).toBe(1);
      expect(chat.texts.join(' ').replace(/\s+/g, ' ')).toBe(`${answer} — answered by ollama/llama3.2`);
      expect(result.messageIds).toEqual([...chat.messages.keys()]);
    });

    it('should wait for the platform to allow the next try after a 429', async () => {
      const chat = new FakeChat({ minEditIntervalMs: 100 });
      chat.fails = (call) => call.kind === 'edit' && call.startedAt < 1000;
      const renderer = new StreamRenderer(chat);
      await streamAnswer(renderer, sentences(12), 5, 10);
      await finished(renderer.finish());
      const failures = chat.calls.filter((call) => !call.ok);
      expect(failures.length).toBeGreaterThan(1);
      for (const failure of failures) {
        const next = chat.calls[chat.calls.indexOf(failure) + 1];
        expect((next?.startedAt ?? 0) - failure.startedAt).toBeGreaterThanOrEqual(700);
      }
      expect(chat.texts).toEqual([sentences(12)]);
    });

    it('should retry a failed final write once and succeed', async () => {
      const chat = new FakeChat();
      const renderer = new StreamRenderer(chat);
      renderer.push('Almost');
      await vi.advanceTimersByTimeAsync(100);
      let failed = false;
      chat.fails = (call) => (failed ? false : (failed = call.kind === 'edit'));
      renderer.push(' there.');
      await finished(renderer.finish());
      expect(chat.texts).toEqual(['Almost there.']);
    });

    it('should reject finish when the final write fails twice', async () => {
      const chat = new FakeChat();
      const renderer = new StreamRenderer(chat);
      chat.fails = () => true;
      renderer.push('Nobody will see this.');
      await vi.advanceTimersByTimeAsync(5000);
      const done = renderer.finish();
      const outcome = expect(done).rejects.toThrow(RateLimitError);
      await vi.runAllTimersAsync();
      await outcome;
    });

    it('should not let a throwing typing call escape', async () => {
      const chat = new FakeChat();
      chat.typing = () => {
        throw new Error('typing endpoint down');
      };
      const renderer = new StreamRenderer(chat);
      expect(() => renderer.start()).not.toThrow();
      await vi.advanceTimersByTimeAsync(10_000);
      renderer.push('ok');
      await finished(renderer.finish());
      expect(chat.texts).toEqual(['ok']);
    });
  });
});
