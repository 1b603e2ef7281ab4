/**
 * Rate limits: every REST answer carries `x-ratelimit-*` headers; message edits are limited per
 * channel (default 5 per 5 s, sliding window) and the excess gets 429 with `retry_after`.
 * By default the edit limit is a hidden sublimit (the headers advertise a roomier bucket, so
 * discord.js actually sends the 6th edit and must handle the 429); `advertise` makes the headers
 * tell the truth, so discord.js queues edits itself and never sees a 429.
 */
import { createHash } from 'node:crypto';

export type Headers = Record<string, string>;

export function bucketHash(route: string): string {
  return createHash('sha1').update(route).digest('hex').slice(0, 16);
}

/** Headers for a roomy bucket that never runs out. */
export function roomyHeaders(route: string): Headers {
  const resetAfter = 1;
  return {
    'x-ratelimit-limit': '50',
    'x-ratelimit-remaining': '49',
    'x-ratelimit-reset': ((Date.now() + resetAfter * 1000) / 1000).toFixed(3),
    'x-ratelimit-reset-after': resetAfter.toFixed(3),
    'x-ratelimit-bucket': bucketHash(route),
  };
}

export type EditVerdict = { ok: true; headers: Headers } | { ok: false; retryAfterMs: number; headers: Headers; body: unknown };

export class EditLimiter {
  /** 429s answered, all routes */
  rateLimited = 0;
  private readonly attempts = new Map<string, number[]>();
  private readonly accepted = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly advertise: boolean,
  ) {}

  /** Counts one edit attempt in `channelId` and says whether it may go through. */
  check(channelId: string, route: string): EditVerdict {
    const now = Date.now();
    const attempts = this.attempts.get(channelId) ?? [];
    attempts.push(now);
    this.attempts.set(channelId, attempts);
    const recent = (this.accepted.get(channelId) ?? []).filter((t) => t > now - this.windowMs);
    this.accepted.set(channelId, recent);
    if (recent.length >= this.limit) {
      const retryAfterMs = Math.max(1, recent[0]! + this.windowMs - now);
      this.rateLimited++;
      const seconds = retryAfterMs / 1000;
      return {
        ok: false,
        retryAfterMs,
        headers: {
          'retry-after': String(Math.ceil(seconds)),
          'x-ratelimit-limit': String(this.limit),
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': ((now + retryAfterMs) / 1000).toFixed(3),
          'x-ratelimit-reset-after': seconds.toFixed(3),
          'x-ratelimit-bucket': bucketHash(route),
          'x-ratelimit-scope': 'user',
        },
        body: { message: 'You are being rate limited.', retry_after: Number(seconds.toFixed(3)), global: false },
      };
    }
    recent.push(now);
    if (!this.advertise) return { ok: true, headers: roomyHeaders(route) };
    const resetAfter = (recent[0]! + this.windowMs - now) / 1000;
    return {
      ok: true,
      headers: {
        'x-ratelimit-limit': String(this.limit),
        'x-ratelimit-remaining': String(this.limit - recent.length),
        'x-ratelimit-reset': ((now + resetAfter * 1000) / 1000).toFixed(3),
        'x-ratelimit-reset-after': resetAfter.toFixed(3),
        'x-ratelimit-bucket': bucketHash(route),
      },
    };
  }

  /** Most edit attempts (429s included) that fell within any one window, in `channelId`. */
  maxPerWindow(channelId: string, windowMs = this.windowMs): number {
    const times = this.attempts.get(channelId) ?? [];
    let best = 0;
    let start = 0;
    for (let end = 0; end < times.length; end++) {
      while (times[end]! - times[start]! >= windowMs) start++;
      best = Math.max(best, end - start + 1);
    }
    return best;
  }
}
