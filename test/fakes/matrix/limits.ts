/**
 * What a homeserver refuses: events over 65,536 bytes of JSON (413 `M_TOO_LARGE`, as Synapse),
 * and a user sending faster than the per-user limit (429 `M_LIMIT_EXCEEDED` with
 * `retry_after_ms` and a `Retry-After` header in whole seconds, as Synapse since MSC4041).
 */
import { MatrixApiError } from './errors.js';
import type { RateLimit } from './types.js';

export const MAX_EVENT_BYTES = 65_536;
/** Synapse's `rc_message` is burst 10 then 0.2/s; tests run it faster */
export const DEFAULT_RATE_LIMIT: RateLimit = { burst: 10, perSecond: 5 };

export function checkEventSize(event: object): void {
  const bytes = Buffer.byteLength(JSON.stringify(event));
  if (bytes > MAX_EVENT_BYTES) throw new MatrixApiError(413, 'M_TOO_LARGE', `event too large: ${bytes} bytes (the limit is ${MAX_EVENT_BYTES})`);
}

export interface Refusal {
  userId: string;
  retryAfterMs: number;
  at: number;
}

/** A token bucket per user. */
export class SendLimiter {
  readonly refusals: Refusal[] = [];
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    public limit: RateLimit | false,
    private readonly now: () => number = Date.now,
  ) {}

  get rateLimited(): number {
    return this.refusals.length;
  }

  /** Takes one send for `userId`, or throws the 429. */
  take(userId: string, now = this.now()): void {
    if (!this.limit) return;
    const { burst, perSecond } = this.limit;
    const bucket = this.buckets.get(userId) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    this.buckets.set(userId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    const retryAfterMs = Math.max(1, Math.ceil(((1 - bucket.tokens) / perSecond) * 1000));
    this.refusals.push({ userId, retryAfterMs, at: now });
    throw new MatrixApiError(429, 'M_LIMIT_EXCEEDED', 'Too Many Requests', { retry_after_ms: retryAfterMs }, { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) });
  }
}
