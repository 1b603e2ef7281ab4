import type { TokenUsage } from './types.js';

/** USD per million tokens. */
export interface Price {
  input: number;
  output: number;
}

/**
 * List prices (USD per million tokens) as published by the providers in 2025–2026. Matched by
 * longest prefix, so dated snapshots (`claude-haiku-4-5-20251001`) find their family.
 * Overridden per model in config (`prices`); local servers are free.
 */
export const DEFAULT_PRICES: Readonly<Record<string, Price>> = {
  'openai/gpt-4o-mini': { input: 0.15, output: 0.6 },
  'openai/gpt-4o': { input: 2.5, output: 10 },
  'openai/gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'openai/gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'openai/gpt-4.1': { input: 2, output: 8 },
  'openai/gpt-5-nano': { input: 0.05, output: 0.4 },
  'openai/gpt-5-mini': { input: 0.25, output: 2 },
  'openai/gpt-5': { input: 1.25, output: 10 },
  'openai/gpt-5-pro': { input: 15, output: 120 },
  'openai/o4-mini': { input: 1.1, output: 4.4 },
  'openai/o3-mini': { input: 1.1, output: 4.4 },
  'openai/o3-pro': { input: 20, output: 80 },
  'openai/o3': { input: 2, output: 8 },
  'openai/text-embedding-3-small': { input: 0.02, output: 0 },
  'openai/text-embedding-3-large': { input: 0.13, output: 0 },
  'anthropic/claude-haiku-4-5': { input: 1, output: 5 },
  'anthropic/claude-3-5-haiku': { input: 0.8, output: 4 },
  'anthropic/claude-sonnet-4': { input: 3, output: 15 },
  'anthropic/claude-3-7-sonnet': { input: 3, output: 15 },
  'anthropic/claude-opus-4-6': { input: 5, output: 25 },
  'anthropic/claude-opus-4-5': { input: 5, output: 25 },
  'anthropic/claude-opus-4-1': { input: 15, output: 75 },
  'anthropic/claude-opus-4': { input: 15, output: 75 },
};

const FREE: Price = { input: 0, output: 0 };

export class PriceTable {
  private readonly prices: Array<[string, Price]>;

  /**
   * @param overrides config `prices`, exact or prefix ids
   * @param localProviders provider names that cost nothing (Ollama, local OpenAI-compatible servers)
   */
  constructor(overrides: Record<string, Price> = {}, private readonly localProviders: ReadonlySet<string> = new Set()) {
    // longest first, so the most specific prefix wins; overrides beat defaults of equal length
    this.prices = Object.entries({ ...DEFAULT_PRICES, ...overrides }).sort((a, b) => b[0].length - a[0].length);
  }

  /** The price for a model, or null when nothing is known (the cost is then recorded as 0). */
  priceOf(modelId: string): Price | null {
    for (const [prefix, price] of this.prices) {
      if (modelId === prefix || modelId.startsWith(prefix)) return price;
    }
    const provider = modelId.slice(0, modelId.indexOf('/'));
    return this.localProviders.has(provider) ? FREE : null;
  }

  /** Cost in USD, rounded to a millionth of a cent so sums stay exact enough. */
  cost(modelId: string, usage: TokenUsage): number {
    const price = this.priceOf(modelId);
    if (!price) return 0;
    const usd = (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000;
    return Math.round(usd * 1e8) / 1e8;
  }
}
