import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createOllamaProvider } from '../../src/core/providers/ollama.js';
import type { Provider } from '../../src/core/providers/types.js';
import { fakeEmbedding, startFakeOllama, type FakeProviderServer } from '../fakes/providers.js';
import { PIXEL_PNG, collect, expectFailure, rejection } from './helpers.js';

describe('Ollama provider', () => {
  let fake: FakeProviderServer;
  let provider: Provider;

  beforeEach(async () => {
    fake = await startFakeOllama({
      models: ['llama3.2:latest', 'llava:latest', 'qwen3:8b', 'nomic-embed-text:latest'],
      modelInfo: { 'qwen3:8b': { contextLength: 40_960, capabilities: ['completion', 'tools', 'thinking'], architecture: 'qwen3' } },
    });
    provider = createOllamaProvider({ name: 'ol', host: fake.url });
  });

  afterEach(async () => {
    await fake.close();
  });

  it('maps params to options and passes keep_alive through', async () => {
    const result = await collect(
      provider.streamChat({
        model: 'llama3.2',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'hi' },
        ],
        params: { temperature: 0.2, topP: 0.8, contextLength: 8192, maxTokens: 300, keepAlive: '10m' },
      }),
    );
    expect(result.error).toBeUndefined();
    const body = fake.lastChatBody();
    expect(body.stream).toBe(true);
    expect(body.options).toEqual({ temperature: 0.2, top_p: 0.8, num_ctx: 8192, num_predict: 300 });
    expect(body.keep_alive).toBe('10m');
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ]);
  });

  it('passes a numeric keep_alive and omits unset options', async () => {
    await collect(provider.streamChat({ model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], params: { keepAlive: 0 } }));
    const body = fake.lastChatBody();
    expect(body.keep_alive).toBe(0);
    expect(body.options).toEqual({});
  });

  it('sends images as base64 strings', async () => {
    await collect(
      provider.streamChat({
        model: 'llava',
        messages: [{ role: 'user', content: 'what is it', images: [{ mimeType: 'image/png', data: PIXEL_PNG }] }],
        params: {},
      }),
    );
    expect(fake.lastChatBody().messages[0]).toEqual({ role: 'user', content: 'what is it', images: [PIXEL_PNG] });
  });

  it('reports usage from prompt_eval_count / eval_count and the done_reason', async () => {
    fake.script({ answer: 'counted', usage: { input: 40, output: 3 }, stopReason: 'length' });
    const result = await collect(provider.streamChat({ model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], params: {} }));
    expect(result.done).toEqual({ type: 'done', usage: { inputTokens: 40, outputTokens: 3 }, stopReason: 'length' });
  });

  it('reads capabilities from /api/show and caches them', async () => {
    expect(await provider.capabilities('qwen3:8b')).toEqual({ name: 'qwen3:8b', contextLength: 40_960, vision: false, tools: true });
    expect(await provider.capabilities('llava')).toEqual({ name: 'llava', contextLength: 131_072, vision: true, tools: false });
    await provider.capabilities('qwen3:8b');
    const shows = fake.requests.filter((r) => r.path === '/api/show');
    expect(shows.map((r) => r.body.model)).toEqual(['qwen3:8b', 'llava']);
  });

  it('says unknown_model for capabilities of a model it does not have', async () => {
    expectFailure(await rejection(provider.capabilities('missing')), 'unknown_model');
  });

  it('lists models with their capabilities', async () => {
    const models = await provider.listModels();
    expect(models.map((m) => m.name)).toEqual(['llama3.2:latest', 'llava:latest', 'qwen3:8b', 'nomic-embed-text:latest']);
    expect(models[2]).toEqual({ name: 'qwen3:8b', contextLength: 40_960, vision: false, tools: true });
    expect(models[1]?.vision).toBe(true);
  });

  it('embeds through /api/embed', async () => {
    const result = await provider.embed('nomic-embed-text', ['alpha', 'beta']);
    expect(result.vectors).toEqual([fakeEmbedding('alpha'), fakeEmbedding('beta')]);
    expect(result.usage?.inputTokens).toBeGreaterThan(0);
    expect(fake.requests.at(-1)?.body).toEqual({ model: 'nomic-embed-text', input: ['alpha', 'beta'] });
  });

  it('classifies an embedding for an unknown model', async () => {
    expectFailure(await rejection(provider.embed('nope', ['x'])), 'unknown_model');
  });

  it('classifies a non-JSON error page quietly', async () => {
    const log = vi.spyOn(console, 'log');
    try {
      const wrongPath = createOllamaProvider({ name: 'ol', host: `${fake.url}/not-ollama` });
      const result = await collect(wrongPath.streamChat({ model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], params: {} }));
      const err = expectFailure(result.error, 'unknown_model');
      expect(err.status).toBe(404);
      expect(err.message).toContain('404 page not found');
      expect(log).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
    }
  });

  it('classifies an error line inside the stream by its text', async () => {
    fake.script({ answer: 'abcdefgh', errorAfterChunks: 1, errorMessage: 'model "x" not found' });
    const result = await collect(provider.streamChat({ model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], params: {} }));
    expect(result.text).toBe('abcd');
    expectFailure(result.error, 'unknown_model');
  });
});
