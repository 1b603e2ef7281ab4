/**
 * Tool calling asked of all three providers, each through its real SDK against its fake: the
 * tools and the history sent in each wire shape, and calls streamed in fragments arriving whole.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderRouter } from '../../src/core/providers/router.js';
import type { Provider } from '../../src/core/providers/types.js';
import type { FakeProviderServer } from '../fakes/providers.js';
import { chat, collect, expectFailure } from './helpers.js';
import { TOOL_HISTORY, TOOLS, subjects } from './subjects.js';

const WEATHER_ARGS = { city: 'Paris', units: 'metric', days: [1, 2, 3] };
const FILES_ARGS = { path: 'src/core', recursive: true };

describe.each(subjects)('$label provider: tool calling', (subject) => {
  let fake: FakeProviderServer;
  let provider: Provider;

  beforeEach(async () => {
    fake = await subject.start();
    provider = subject.create(fake.url);
  });

  afterEach(async () => {
    await fake.close();
  });

  it('sends the tools in its own shape', async () => {
    await collect(chat(provider, subject.model, 'hi', { tools: TOOLS }));
    expect(fake.lastChatBody().tools).toEqual(subject.toolsWire);
  });

  it('sends no tools key when there are none', async () => {
    await collect(chat(provider, subject.model, 'hi'));
    await collect(chat(provider, subject.model, 'hi', { tools: [] }));
    for (const request of fake.chatRequests()) expect(request.body).not.toHaveProperty('tools');
  });

  it('assembles a call whole from its fragments', async () => {
    fake.script({ toolCalls: [{ id: 'call_w1', name: 'get_weather', arguments: WEATHER_ARGS }], chunkSize: 3, usage: { input: 30, output: 12 } });
    const result = await collect(chat(provider, subject.model, 'weather?', { tools: TOOLS }));
    expect(result.error).toBeUndefined();
    expect(result.text).toBe('');
    expect(result.calls).toHaveLength(1);
    expect(result.calls[0]).toMatchObject({ id: subject.callId('call_w1', 1), name: 'get_weather' });
    expect(JSON.parse(result.calls[0]!.arguments)).toEqual(WEATHER_ARGS);
    expect(result.doneCount).toBe(1);
    expect(result.done).toEqual({ type: 'done', usage: { inputTokens: 30, outputTokens: 12 }, stopReason: subject.toolStopReason });
  });

  it('keeps two parallel calls apart and in the order they were made', async () => {
    fake.script({
      toolCalls: [
        { id: 'call_w1', name: 'get_weather', arguments: WEATHER_ARGS },
        { id: 'call_f2', name: 'list_files', arguments: FILES_ARGS },
      ],
      chunkSize: 2,
    });
    const result = await collect(chat(provider, subject.model, 'both', { tools: TOOLS }));
    expect(result.error).toBeUndefined();
    expect(result.calls.map((c) => [c.id, c.name, JSON.parse(c.arguments)])).toEqual([
      [subject.callId('call_w1', 1), 'get_weather', WEATHER_ARGS],
      [subject.callId('call_f2', 2), 'list_files', FILES_ARGS],
    ]);
    expect(result.doneCount).toBe(1);
  });

  it('streams text and then a call in one answer', async () => {
    fake.script({ answer: 'Let me look that up.', toolCalls: [{ id: 'call_w1', name: 'get_weather', arguments: { city: 'Oslo' } }] });
    const result = await collect(chat(provider, subject.model, 'weather?', { tools: TOOLS }));
    expect(result.text).toBe('Let me look that up.');
    expect(result.order).toMatch(/^t+c$/);
    expect(result.calls[0]).toMatchObject({ name: 'get_weather', arguments: '{"city":"Oslo"}' });
    expect(result.done?.stopReason).toBe(subject.toolStopReason);
  });

  it('gives a call with no arguments as {}', async () => {
    fake.script({ toolCalls: [{ id: 'call_f1', name: 'list_files', arguments: {} }] });
    const result = await collect(chat(provider, subject.model, 'files?', { tools: TOOLS }));
    expect(result.calls.map((c) => JSON.parse(c.arguments))).toEqual([{}]);
  });

  it('sends back the calls and their results in its own shape', async () => {
    await collect(provider.streamChat({ model: subject.model, messages: TOOL_HISTORY, params: {}, tools: TOOLS }));
    expect(fake.lastChatBody().messages).toEqual(subject.toolHistoryWire);
  });

  it.runIf(subject.label !== 'ollama')('gives no call when the stream is cut among its fragments', async () => {
    // Ollama sends each call whole in one line: there is no half a call to drop
    fake.script({ toolCalls: [{ id: 'call_w1', name: 'get_weather', arguments: WEATHER_ARGS }], chunkSize: 3, cutAfterChunks: 3 });
    const result = await collect(chat(provider, subject.model, 'weather?', { tools: TOOLS }));
    expectFailure(result.error, 'connection');
    expect(result.calls).toEqual([]);
    expect(result.done).toBeNull();
  });

  it('yields the calls in the router outcome, end to end', async () => {
    const router = new ProviderRouter(new Map([[provider.name, provider]]), {
      retries: 0,
      retryBaseDelayMs: 5,
      firstTokenTimeoutMs: 15_000,
      totalTimeoutMs: 15_000,
      maxRetryAfterMs: 2_000,
    });
    fake.script({
      answer: 'Checking.',
      toolCalls: [
        { id: 'call_w1', name: 'get_weather', arguments: WEATHER_ARGS },
        { id: 'call_f2', name: 'list_files', arguments: FILES_ARGS },
      ],
    });
    try {
      const outcome = await router.stream({
        candidates: [`${provider.name}/${subject.model}`],
        messages: [{ role: 'user', content: 'weather and files' }],
        params: {},
        tools: TOOLS,
      });
      expect(outcome).toMatchObject({ status: 'ok', text: 'Checking.', stopReason: subject.toolStopReason });
      expect(outcome.toolCalls.map((c) => [c.id, c.name, JSON.parse(c.arguments)])).toEqual([
        [subject.callId('call_w1', 1), 'get_weather', WEATHER_ARGS],
        [subject.callId('call_f2', 2), 'list_files', FILES_ARGS],
      ]);
      expect(fake.lastChatBody().tools).toEqual(subject.toolsWire);
    } finally {
      await router.stop();
    }
  });
});
