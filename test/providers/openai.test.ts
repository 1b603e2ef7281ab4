import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/core/providers/classify.js';
import { createOpenAIProvider, knownOpenAIModel, openAIChatBody } from '../../src/core/providers/openai.js';
import type { Provider } from '../../src/core/providers/types.js';
import { fakeEmbedding, startFakeOpenAI, type FakeProviderServer } from '../fakes/providers.js';
import { PIXEL_PNG, collect, expectFailure, rejection } from './helpers.js';

describe('OpenAI provider', () => {
  let fake: FakeProviderServer;
  let provider: Provider;

  beforeEach(async () => {
    fake = await startFakeOpenAI();
    provider = createOpenAIProvider({ name: 'oa', baseURL: fake.url, defaultHeaders: { 'x-team': 'blue' } });
  });

  afterEach(async () => {
    await fake.close();
  });

  it('asks for a stream with usage and maps the generation params', async () => {
    await collect(
      provider.streamChat({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'hello' },
          { role: 'user', content: 'again' },
        ],
        params: { temperature: 0.3, topP: 0.9, maxTokens: 256, contextLength: 999, keepAlive: '5m' },
      }),
    );
    const body = fake.lastChatBody();
    expect(body).toEqual({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
        { role: 'user', content: 'again' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.3,
      top_p: 0.9,
      max_tokens: 256,
    });
  });

  it('sends a placeholder key when none is configured, and the default headers', async () => {
    await collect(provider.streamChat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], params: {} }));
    const { headers } = fake.chatRequests()[0]!;
    expect(headers.authorization).toBe('Bearer not-needed');
    expect(headers['x-team']).toBe('blue');
    expect(headers['x-stainless-retry-count']).toBe('0');
  });

  it('sends images as image_url parts with data: URLs', async () => {
    const result = await collect(
      provider.streamChat({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'what is this?', images: [{ mimeType: 'image/png', data: PIXEL_PNG }] }],
        params: {},
      }),
    );
    expect(result.text).toBe('Echo: what is this?');
    expect(fake.lastChatBody().messages[0].content).toEqual([
      { type: 'text', text: 'what is this?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${PIXEL_PNG}` } },
    ]);
  });

  it('uses max_completion_tokens only for api.openai.com', () => {
    const request = { model: 'o3', messages: [{ role: 'user' as const, content: 'x', images: [] }], params: { maxTokens: 50 } };
    const forOpenAI = openAIChatBody(request, true);
    expect(forOpenAI.max_completion_tokens).toBe(50);
    expect(forOpenAI.max_tokens).toBeUndefined();
    expect(forOpenAI.messages).toEqual([{ role: 'user', content: 'x' }]);
    const compatible = openAIChatBody(request, false);
    expect(compatible.max_tokens).toBe(50);
    expect(compatible.max_completion_tokens).toBeUndefined();
  });

  it('fails with connection when the stream ends without finish_reason or usage', async () => {
    fake.script({ answer: 'abc', usage: null, stopReason: '' });
    const result = await collect(
      provider.streamChat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], params: {} }),
    );
    expect(result.text).toBe('abc');
    expectFailure(result.error, 'connection');
  });

  it('keeps calls apart that a compatible server sends whole, each without an index', async () => {
    // some OpenAI-compatible servers send each call in one fragment, with no index (or always 0)
    const frames = [
      { tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { tool_calls: [{ id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] },
    ].map((delta) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`);
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const end = { id: 'x', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] };
      res.end(`${frames.join('')}data: ${JSON.stringify(end)}\n\ndata: [DONE]\n\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const compatible = createOpenAIProvider({ name: 'local', baseURL: `http://127.0.0.1:${port}/v1` });
      const result = await collect(compatible.streamChat({ model: 'm', messages: [{ role: 'user', content: 'x' }], params: {} }));
      expect(result.calls).toEqual([
        { id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
        { id: 'call_2', name: 'get_weather', arguments: '{"city":"Rome"}' },
      ]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('embeds through base64 and gets the full dimension', async () => {
    const result = await provider.embed('text-embedding-3-small', ['alpha', 'beta']);
    expect(fake.requests.at(-1)?.body.encoding_format).toBe('base64');
    expect(result.vectors).toHaveLength(2);
    expect(result.vectors[0]).toHaveLength(8);
    expect(result.vectors[0]).toEqual(fakeEmbedding('alpha', 8));
    expect(result.vectors[1]).toEqual(fakeEmbedding('beta', 8));
    expect(result.usage?.inputTokens).toBeGreaterThan(0);
  });

  it('embeds with a larger configured dimension', async () => {
    const wide = await startFakeOpenAI({ embeddingDimension: 384 });
    try {
      const p = createOpenAIProvider({ name: 'wide', baseURL: wide.url });
      const result = await p.embed('text-embedding-3-small', ['gamma']);
      expect(result.vectors[0]).toHaveLength(384);
    } finally {
      await wide.close();
    }
  });

  it('classifies embedding failures', async () => {
    expectFailure(await rejection(provider.embed('nope', ['x'])), 'unknown_model');
    fake.scriptFor('embed', { status: 429, retryAfter: 3 });
    const err = expectFailure(await rejection(provider.embed('text-embedding-3-small', ['x'])), 'rate_limited');
    expect(err.retryAfterMs).toBe(3000);
  });

  it('lists models with known capabilities', async () => {
    const models = await provider.listModels();
    expect(models).toContainEqual({ name: 'gpt-4o', contextLength: 128_000, vision: true, tools: true });
    expect(models).toContainEqual({ name: 'text-embedding-3-small', contextLength: 8_191, vision: false, tools: false });
  });

  it('knows common model families and nothing else', async () => {
    expect(await provider.capabilities('gpt-4o-mini')).toEqual({ name: 'gpt-4o-mini', contextLength: 128_000, vision: true, tools: true });
    expect(knownOpenAIModel('gpt-4.1-nano')).toMatchObject({ contextLength: 1_047_576, vision: true });
    expect(knownOpenAIModel('gpt-5-mini')).toMatchObject({ contextLength: 400_000, vision: true });
    expect(knownOpenAIModel('o3-mini')).toMatchObject({ contextLength: 200_000, vision: false });
    expect(knownOpenAIModel('o4-mini')).toMatchObject({ contextLength: 200_000, vision: true });
    expect(knownOpenAIModel('gpt-3.5-turbo')).toMatchObject({ contextLength: 16_385, vision: false });
    expect(knownOpenAIModel('gpt-4')).toMatchObject({ contextLength: 8_192 });
    expect(knownOpenAIModel('gpt-40-fake')).toBeNull();
    // on a compatible server (the fake is one), the server decides whether an unknown model calls tools
    expect(await provider.capabilities('qwen2.5-7b-instruct')).toEqual({
      name: 'qwen2.5-7b-instruct',
      contextLength: null,
      vision: false,
      tools: true,
    });
    const hosted = createOpenAIProvider({ name: 'openai', apiKey: 'sk-test', baseURL: 'https://api.openai.com/v1' });
    expect(await hosted.capabilities('gpt-4o')).toMatchObject({ tools: true });
  });

  it('takes a compatible server\'s listed context size for a model it does not know', async () => {
    const vllm = await startFakeOpenAI({ models: ['Qwen/Qwen3-8B'], modelFields: { 'Qwen/Qwen3-8B': { max_model_len: 32_768 } } });
    try {
      const p = createOpenAIProvider({ name: 'vllm', baseURL: vllm.url });
      expect(await p.capabilities('Qwen/Qwen3-8B')).toEqual({ name: 'Qwen/Qwen3-8B', contextLength: 32_768, vision: false, tools: true });
      expect(await p.listModels()).toEqual([{ name: 'Qwen/Qwen3-8B', contextLength: 32_768, vision: false, tools: true }]);
    } finally {
      await vllm.close();
    }
  });

  it('answers unknown capabilities when the server cannot be asked', async () => {
    await fake.close();
    expect(await provider.capabilities('local-model')).toEqual({ name: 'local-model', contextLength: null, vision: false, tools: true });
  });

  it('does not ask the server again for an unknown model it already looked up', async () => {
    await provider.capabilities('mystery');
    await provider.capabilities('mystery');
    expect(fake.requests.filter((r) => r.path === '/v1/models')).toHaveLength(1);
  });
});

describe('parseRetryAfter', () => {
  it('reads ms, seconds and HTTP dates', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '250' }), now)).toBe(250);
    expect(parseRetryAfter(new Headers({ 'retry-after': '1.5' }), now)).toBe(1500);
    expect(parseRetryAfter({ 'Retry-After': 'Tue, 01 Jan 2030 00:00:10 GMT' }, now)).toBe(10_000);
    expect(parseRetryAfter({ 'retry-after': 'Tue, 01 Jan 2029 00:00:10 GMT' }, now)).toBe(0);
    expect(parseRetryAfter({ 'retry-after': 'soon' }, now)).toBeNull();
    expect(parseRetryAfter(new Headers(), now)).toBeNull();
  });
});
