/**
 * Slack's limits on what a message may hold, and the `chat.update` rate limit per message.
 * Text over 40,000 characters is `msg_too_long`; more than 50 blocks, a section text over 3,000
 * characters (or a field over 2,000, or more than 10 fields) or a header over 150 is
 * `invalid_blocks`; blocks that are not a JSON array are `invalid_blocks_format`.
 */
import type { UpdateLimit } from './types.js';

export const MAX_TEXT = 40_000;
export const MAX_SECTION_TEXT = 3_000;

export type Verdict = { ok: true; blocks?: unknown[] } | { ok: false; error: string };

function textOf(value: unknown): string | undefined {
  if (value && typeof value === 'object' && typeof (value as { text?: unknown }).text === 'string') return (value as { text: string }).text;
  return undefined;
}

export function checkContent(text: unknown, rawBlocks: unknown, requireContent = true): Verdict {
  if (text !== undefined && typeof text !== 'string') return { ok: false, error: 'invalid_arguments' };
  let blocks: unknown = rawBlocks;
  if (typeof rawBlocks === 'string') {
    try {
      blocks = JSON.parse(rawBlocks);
    } catch {
      return { ok: false, error: 'invalid_blocks_format' };
    }
  }
  if (blocks !== undefined && !Array.isArray(blocks)) return { ok: false, error: 'invalid_blocks_format' };
  if (requireContent && !text && (!blocks || blocks.length === 0)) return { ok: false, error: 'no_text' };
  if (typeof text === 'string' && text.length > MAX_TEXT) return { ok: false, error: 'msg_too_long' };
  if (blocks) {
    if (blocks.length > 50) return { ok: false, error: 'invalid_blocks' };
    for (const block of blocks as Array<Record<string, unknown>>) {
      if (!block || typeof block !== 'object' || typeof block.type !== 'string') return { ok: false, error: 'invalid_blocks' };
      if (block.type === 'section') {
        const t = textOf(block.text);
        if (t !== undefined && (t.length > MAX_SECTION_TEXT || t.length === 0)) return { ok: false, error: 'invalid_blocks' };
        const fields = block.fields;
        if (Array.isArray(fields) && (fields.length > 10 || fields.some((f) => (textOf(f)?.length ?? 0) > 2_000))) return { ok: false, error: 'invalid_blocks' };
        if (t === undefined && !Array.isArray(fields)) return { ok: false, error: 'invalid_blocks' };
      }
      if (block.type === 'header' && (textOf(block.text)?.length ?? 0) > 150) return { ok: false, error: 'invalid_blocks' };
    }
  }
  return blocks === undefined ? { ok: true } : { ok: true, blocks: blocks as unknown[] };
}

/** A token bucket per message: `burst` updates at once, refilled at `perSecond`. */
export class UpdateLimiter {
  rateLimited = 0;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    public limit: UpdateLimit | false,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one update for `key`; `null` when allowed, else the Retry-After in whole seconds. */
  take(key: string, now = this.now()): number | null {
    if (!this.limit) return null;
    const { perSecond, burst } = this.limit;
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return null;
    }
    this.rateLimited += 1;
    return Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
  }
}
