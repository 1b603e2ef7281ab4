import type { TokenUsage } from './types.js';

/** USD per million tokens. */
export interface Price {
  input: number;
  output: number;
}

/**
 * List prices (USD per million tokens) as published by the providers in 2025–2026. A model is
 * priced only when its id is listed or is a provider's dated snapshot of a listed id
 * (`gpt-4o-mini-2024-07-18`, `claude-haiku-4-5-20251001`): an id merely starting like a listed
 * one (`gpt-5-nonexistent`) is unknown, and unknown is unpriced, never guessed.
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
  'anthropic/claude-sonnet-4-5': { input: 3, output: 15 },
  'anthropic/claude-sonnet-4': { input: 3, output: 15 },
  'anthropic/claude-3-7-sonnet': { input: 3, output: 15 },
  'anthropic/claude-opus-4-6': { input: 5, output: 25 },
  'anthropic/claude-opus-4-5': { input: 5, output: 25 },
  'anthropic/claude-opus-4-1': { input: 15, output: 75 },
  'anthropic/claude-opus-4': { input: 15, output: 75 },
};

const FREE: Price = { input: 0, output: 0 };

/**
 * What a provider appends to a model id for one snapshot of it: a date, `-2024-07-18` (OpenAI)
 * or `-20251001` (Anthropic), or Anthropic's `-latest` alias for the newest snapshot.
 */
const DATED_SNAPSHOT = /-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$/;

export class PriceTable {
  private readonly prices: ReadonlyMap<string, Price>;
  private readonly overrides: ReadonlyMap<string, Price>;

  /**
   * @param overrides config `prices`, by exact model id (a dated snapshot finds its undated entry)
   * @param localProviders provider names whose endpoint is this machine or the LAN (localProviderNames)
   */
  constructor(overrides: Record<string, Price> = {}, private readonly localProviders: ReadonlySet<string> = new Set()) {
    this.overrides = new Map(Object.entries(overrides));
    this.prices = new Map(Object.entries({ ...DEFAULT_PRICES, ...overrides }));
  }

  /**
   * The price for a model; null when nothing is known about it (unpriced: its cost is recorded
   * as 0 and the Usage page says "unpriced", not $0).
   *
   * A local provider costs nothing whatever its model is called — a server on 127.0.0.1 serving
   * `gpt-4o-mini` is not OpenAI's bill — and that is decided before the list prices. Only a
   * `prices` entry in config for that exact model beats it: an operator who wants their own
   * hardware or a LAN proxy in front of a paid API accounted for says so by name.
   */
  priceOf(modelId: string): Price | null {
    const override = this.overrides.get(modelId);
    if (override) return override;
    if (this.localProviders.has(modelId.slice(0, modelId.indexOf('/')))) return FREE;
    return this.prices.get(modelId) ?? this.prices.get(modelId.replace(DATED_SNAPSHOT, '')) ?? null;
  }

  /** Whether a model has a price (free counts): false means its costs are unknown, not zero. */
  isPriced(modelId: string): boolean {
    return this.priceOf(modelId) !== null;
  }

  /** Cost in USD, rounded to a millionth of a cent so sums stay exact enough; 0 when unpriced. */
  cost(modelId: string, usage: TokenUsage): number {
    const price = this.priceOf(modelId);
    if (!price) return 0;
    const usd = (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000;
    return Math.round(usd * 1e8) / 1e8;
  }
}
