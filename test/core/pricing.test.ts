import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/core/errors.js';
import { PriceTable } from '../../src/core/providers/pricing.js';
import { isLocalAddress } from '../../src/core/providers/registry.js';
import type { ProviderCall } from '../../src/core/providers/router.js';
import { promptTokenEstimate, usageRow, type UsageContext } from '../../src/core/usage/ledger.js';

const CONTEXT: UsageContext = {
  platform: 'discord',
  userId: 'u1',
  experienceId: 3,
  conversationId: 7,
  messageId: 11,
  purpose: 'chat',
};

function call(overrides: Partial<ProviderCall> = {}): ProviderCall {
  return {
    modelId: 'openai/gpt-4o-mini',
    provider: 'openai',
    model: 'gpt-4o-mini',
    usage: { inputTokens: 120, outputTokens: 12 },
    outputText: 'Hello there.',
    latencyMs: 850,
    ttftMs: 240,
    status: 'ok',
    error: null,
    ...overrides,
  };
}

describe(PriceTable.name, () => {
  describe('prices', () => {
    it('should know the list prices of common hosted models', () => {
      const table = new PriceTable();
      expect(table.priceOf('openai/gpt-4o-mini')).toEqual({ input: 0.15, output: 0.6 });
      expect(table.priceOf('openai/gpt-4o')).toEqual({ input: 2.5, output: 10 });
      expect(table.priceOf('anthropic/claude-haiku-4-5')).toEqual({ input: 1, output: 5 });
    });

    it('should price a dated snapshot like its family, by the longest matching prefix', () => {
      const table = new PriceTable();
      expect(table.priceOf('anthropic/claude-haiku-4-5-20251001')).toEqual({ input: 1, output: 5 });
      // gpt-4o-mini, not the shorter gpt-4o prefix
      expect(table.priceOf('openai/gpt-4o-mini-2024-07-18')).toEqual({ input: 0.15, output: 0.6 });
      expect(table.priceOf('openai/gpt-4o-2024-08-06')).toEqual({ input: 2.5, output: 10 });
    });

    it('should let a config override win over the default', () => {
      const table = new PriceTable({
        'openai/gpt-4o-mini': { input: 1, output: 2 },
        'openai/gpt-4o-2024-05-13': { input: 5, output: 15 },
        'openrouter/meta-llama/llama-3.1-70b': { input: 0.4, output: 0.4 },
      });
      expect(table.priceOf('openai/gpt-4o-mini')).toEqual({ input: 1, output: 2 });
      expect(table.cost('openai/gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBe(3);
      // a more specific override beats the family default, which still prices the rest
      expect(table.priceOf('openai/gpt-4o-2024-05-13')).toEqual({ input: 5, output: 15 });
      expect(table.priceOf('openai/gpt-4o')).toEqual({ input: 2.5, output: 10 });
      expect(table.priceOf('openrouter/meta-llama/llama-3.1-70b')).toEqual({ input: 0.4, output: 0.4 });
    });

    it('should make local providers free', () => {
      const table = new PriceTable({}, new Set(['ollama', 'vllm']));
      expect(table.priceOf('ollama/llama3.2:latest')).toEqual({ input: 0, output: 0 });
      expect(table.priceOf('vllm/qwen2.5-72b')).toEqual({ input: 0, output: 0 });
      expect(table.cost('vllm/qwen2.5-72b', { inputTokens: 50_000, outputTokens: 10_000 })).toBe(0);
    });

    it('should not price a model it does not know because its name starts like one it does', () => {
      const table = new PriceTable();
      expect(table.priceOf('openai/gpt-5-nonexistent')).toBeNull();
      expect(table.priceOf('openai/gpt-4o-mini-tts')).toBeNull();
      expect(table.priceOf('anthropic/claude-opus-4-9')).toBeNull();
      // the provider's dated snapshots and Anthropic's -latest alias are the family
      expect(table.priceOf('openai/gpt-5-2025-08-07')).toEqual({ input: 1.25, output: 10 });
      expect(table.priceOf('anthropic/claude-3-5-haiku-latest')).toEqual({ input: 0.8, output: 4 });
      expect(table.priceOf('anthropic/claude-sonnet-4-5-20250929')).toEqual({ input: 3, output: 15 });
    });

    it('should make a local server free whatever its model is called, unless config prices that exact model', () => {
      const table = new PriceTable({ 'lmstudio/gpt-4o': { input: 0.5, output: 0.5 } }, new Set(['lmstudio', 'openai']));
      // an OpenAI-compatible server on 127.0.0.1 serving gpt-4o-mini is not OpenAI's bill
      expect(table.priceOf('openai/gpt-4o-mini')).toEqual({ input: 0, output: 0 });
      expect(table.priceOf('openai/gpt-5-nonexistent')).toEqual({ input: 0, output: 0 });
      expect(table.cost('openai/gpt-4o', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBe(0);
      expect(table.priceOf('lmstudio/gpt-4o')).toEqual({ input: 0.5, output: 0.5 });
      expect(table.isPriced('lmstudio/anything')).toBe(true);
    });

    it('should have no price, and cost nothing, for an unknown hosted model', () => {
      const table = new PriceTable({}, new Set(['ollama']));
      expect(table.priceOf('openai/gpt-imaginary')).toBeNull();
      expect(table.priceOf('openrouter/some-model')).toBeNull();
      expect(table.isPriced('openrouter/some-model')).toBe(false);
      expect(table.cost('openrouter/some-model', { inputTokens: 1_000, outputTokens: 1_000 })).toBe(0);
    });
  });

  describe('cost', () => {
    it('should be exact for known figures', () => {
      const table = new PriceTable();
      expect(table.cost('openai/gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 500_000 })).toBe(0.45);
      expect(table.cost('openai/gpt-4o-mini', { inputTokens: 120, outputTokens: 12 })).toBe(0.0000252);
      expect(table.cost('anthropic/claude-haiku-4-5-20251001', { inputTokens: 1_000, outputTokens: 1_000 })).toBe(0.006);
      expect(table.cost('openai/gpt-4o-mini', { inputTokens: 0, outputTokens: 0 })).toBe(0);
    });
  });

  describe(usageRow.name, () => {
    it('should record the provider figures as exact and price them', () => {
      const row = usageRow(call(), CONTEXT, new PriceTable(), 999);
      expect(row).toEqual({
        platform: 'discord',
        user_id: 'u1',
        experience_id: 3,
        conversation_id: 7,
        message_id: 11,
        provider: 'openai',
        model: 'openai/gpt-4o-mini',
        purpose: 'chat',
        tokens_in: 120,
        tokens_out: 12,
        estimated: 0,
        cost_usd: 0.0000252,
        latency_ms: 850,
        ttft_ms: 240,
        status: 'ok',
        error: null,
      });
    });

    it('should estimate from the prompt estimate and the output text when the provider sent no usage', () => {
      const promptEstimate = promptTokenEstimate([
        { role: 'system', content: 'You are terse.' }, // 4 + 4
        { role: 'user', content: 'hello there' }, // 3 + 4
      ]);
      expect(promptEstimate).toBe(15);
      const partial = call({
        usage: null,
        outputText: 'partial words here', // 18 ASCII characters: 5 tokens
        status: 'partial',
        error: new ProviderError('connection', 'openai: the stream ended before the answer was complete'),
      });
      const row = usageRow(partial, CONTEXT, new PriceTable(), promptEstimate);
      expect(row).toMatchObject({
        tokens_in: 15,
        tokens_out: 5,
        estimated: 1,
        cost_usd: 0.00000525, // (15 × 0.15 + 5 × 0.60) / 1e6
        status: 'partial',
        error: 'openai: the stream ended before the answer was complete',
      });
    });

    it('should charge nothing for a call that failed before any text arrived', () => {
      const refused = call({ status: 'error', usage: null, outputText: '', error: new ProviderError('connection', 'openai: connection refused') });
      expect(usageRow(refused, CONTEXT, new PriceTable(), 4000)).toMatchObject({ tokens_in: 0, tokens_out: 0, estimated: 0, cost_usd: 0, status: 'error' });
    });

    it('should take the status it is given and cut long error messages', () => {
      const failed = call({ status: 'error', usage: null, outputText: '', error: new ProviderError('server', 'x'.repeat(2_000)) });
      expect(usageRow(call(), CONTEXT, new PriceTable(), 10, 'fallback').status).toBe('fallback');
      expect(usageRow(failed, CONTEXT, new PriceTable(), 10).error).toHaveLength(500);
    });

    it('should fix the cost when the row is written: a later price change does not touch it', () => {
      const before = new PriceTable();
      const after = new PriceTable({ 'openai/gpt-4o-mini': { input: 10, output: 40 } });
      const written = usageRow(call(), CONTEXT, before, 0);
      const snapshot = { ...written };

      const rewritten = usageRow(call(), CONTEXT, after, 0);

      expect(rewritten.cost_usd).toBe(0.00168); // (120 × 10 + 12 × 40) / 1e6
      expect(written.cost_usd).toBe(0.0000252);
      expect(written).toEqual(snapshot);
    });
  });
});

describe(isLocalAddress.name, () => {
  it('should call loopback and private addresses local, however they are written', () => {
    for (const url of ['http://127.0.0.1:1234/v1', 'http://localhost:8080', 'http://2130706433:8000/v1', 'http://[::ffff:127.0.0.1]:80', 'http://[::1]:1234', 'http://192.168.1.20:1234/v1', 'http://10.0.0.5', 'http://172.20.0.2', 'http://[fd12:3456::1]:8000', 'http://169.254.0.9']) {
      expect(isLocalAddress(url), url).toBe(true);
    }
  });

  it('should call hosted APIs and look-alike names hosted', () => {
    for (const url of ['https://api.openai.com/v1', 'https://openrouter.ai/api/v1', 'http://localhost.example.com', 'http://172.32.0.1', 'http://127.example.com', 'http://8.8.8.8', 'not a url']) {
      expect(isLocalAddress(url), url).toBe(false);
    }
  });
});
