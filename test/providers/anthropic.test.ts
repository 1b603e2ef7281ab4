import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAnthropicProvider, toAnthropicMessages } from '../../src/core/providers/anthropic.js';
import type { Provider } from '../../src/core/providers/types.js';
import { startFakeAnthropic, type FakeProviderServer } from '../fakes/providers.js';
import { PIXEL_PNG, collect, expectFailure, rejection } from './helpers.js';

const MODEL = 'claude-haiku-4-5';

describe('Anthropic provider', () => {
  let fake: FakeProviderServer;
  let provider: Provider;

  beforeEach(async () => {
    fake = await startFakeAnthropic();
    provider = createAnthropicProvider({ name: 'an', baseURL: fake.url, apiKey: 'sk-ant-test' });
  });

  afterEach(async () => {
    await fake.close();
  });

  it('puts all system messages in the top-level system parameter', async () => {
    const result = await collect(
      provider.streamChat({
        model: MODEL,
        messages: [
          { role: 'system', content: 'You are Threadloom.' },
          { role: 'user', content: 'hello' },
          { role: 'system', content: 'Answer in French.' },
          { role: 'user', content: 'again' },
        ],
        params: {},
      }),
    );
    expect(result.error).toBeUndefined();
    const body = fake.lastChatBody();
    expect(body.system).toBe('You are Threadloom.\n\nAnswer in French.');
    expect(body.messages).toEqual([{ role: 'user', content: 'hello\n\nagain' }]);
    expect(body.messages.some((m: { role: string }) => m.role === 'system')).toBe(false);
    expect(body.stream).toBe(true);
    expect(result.text).toBe('Echo: hello\n\nagain');
  });

  it('sends max_tokens from params, else 4096, and the API key header', async () => {
    await collect(provider.streamChat({ model: MODEL, messages: [{ role: 'user', content: 'a' }], params: { maxTokens: 77 } }));
    await collect(provider.streamChat({ model: MODEL, messages: [{ role: 'user', content: 'b' }], params: {} }));
    const [first, second] = fake.chatRequests();
    expect(first!.body.max_tokens).toBe(77);
    expect(second!.body.max_tokens).toBe(4096);
    // SDK 1.x sends the API key as a bearer token, not x-api-key
    expect(first!.headers.authorization).toBe('Bearer sk-ant-test');
    expect(first!.headers['anthropic-version']).toBeTruthy();
    expect(first!.body.system).toBeUndefined();
  });

  it('makes turns alternate and start with the user', async () => {
    await collect(
      provider.streamChat({
        model: MODEL,
        messages: [
          { role: 'assistant', content: 'Welcome!' },
          { role: 'assistant', content: 'Ask me anything.' },
          { role: 'user', content: 'one' },
          { role: 'user', content: 'two' },
          { role: 'assistant', content: 'ok' },
          { role: 'user', content: 'three' },
        ],
        params: {},
      }),
    );
    const roles = fake.lastChatBody().messages.map((m: { role: string }) => m.role);
    expect(roles).toEqual(['user', 'assistant', 'user', 'assistant', 'user']);
    expect(fake.lastChatBody().messages[1].content).toBe('Welcome!\n\nAsk me anything.');
    expect(fake.lastChatBody().messages[2].content).toBe('one\n\ntwo');
  });

  it('sends images as base64 image blocks', async () => {
    await collect(
      provider.streamChat({
        model: MODEL,
        messages: [{ role: 'user', content: 'describe', images: [{ mimeType: 'image/png', data: PIXEL_PNG }] }],
        params: {},
      }),
    );
    expect(fake.lastChatBody().messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PIXEL_PNG } },
          { type: 'text', text: 'describe' },
        ],
      },
    ]);
  });

  it('takes input tokens from message_start and output tokens from message_delta', async () => {
    fake.script({ answer: 'counted', usage: { input: 321, output: 9 } });
    const result = await collect(provider.streamChat({ model: MODEL, messages: [{ role: 'user', content: 'x' }], params: {} }));
    expect(result.done?.usage).toEqual({ inputTokens: 321, outputTokens: 9 });
  });

  it('classifies an overloaded 529 as server', async () => {
    fake.script({ status: 529 });
    const result = await collect(provider.streamChat({ model: MODEL, messages: [{ role: 'user', content: 'x' }], params: {} }));
    const err = expectFailure(result.error, 'server');
    expect(err.status).toBe(529);
  });

  it('lists models and answers Claude capabilities', async () => {
    const models = await provider.listModels();
    expect(models.map((m) => m.name)).toEqual(['claude-sonnet-4-6', 'claude-haiku-4-5', 'claude-opus-4-6']);
    expect(models[0]).toEqual({ name: 'claude-sonnet-4-6', contextLength: 200_000, vision: true, tools: true });
    expect(await provider.capabilities('claude-opus-4-6')).toEqual({
      name: 'claude-opus-4-6',
      contextLength: 200_000,
      vision: true,
      tools: true,
    });
    expect(await provider.capabilities('some-proxy-model')).toMatchObject({ contextLength: null, vision: false });
  });

  it('refuses to embed with bad_request', async () => {
    expectFailure(await rejection(provider.embed(MODEL, ['x'])), 'bad_request');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('toAnthropicMessages', () => {
  it('adds a user placeholder when there are only system messages', () => {
    const { system, messages } = toAnthropicMessages([{ role: 'system', content: 'sys' }]);
    expect(system).toBe('sys');
    expect(messages).toHaveLength(1);
    expect(messages[0]!.role).toBe('user');
  });

  it('drops empty text and trims a trailing assistant prefill', () => {
    const { messages } = toAnthropicMessages([
      { role: 'user', content: 'q' },
      { role: 'user', content: '   ' },
      { role: 'assistant', content: 'Sure, ' },
    ]);
    expect(messages).toEqual([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'Sure,' },
    ]);
  });
});
