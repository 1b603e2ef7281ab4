import { ProviderError } from '../errors.js';

export interface ProviderLimits {
  maxConcurrent: number;
  requestsPerMinute: number | null;
}

const WINDOW_MS = 60_000;

/**
 * Per-provider concurrency and requests-per-minute. Calls start at once while there is room and
 * wait in order when there is not. (Bottleneck did this job first, but its scheduler yields to
 * the timer queue several times per job — about 4.5 ms per call measured here — which alone was
 * more than the whole latency budget of a turn.)
 */
export class ProviderGate {
  private running = 0;
  private readonly starts: number[] = [];
  private readonly waiting: Array<{ start: () => void; fail: (err: Error) => void }> = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly limits: ProviderLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `job` when the limits allow; rejects with an `aborted` ProviderError if `signal` fires first. */
  async run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await job();
    } finally {
      this.running--;
      this.pump();
    }
  }

  /** Rejects everything still waiting; used at shutdown. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const waiter of this.waiting.splice(0)) waiter.fail(new ProviderError('aborted', 'shutting down'));
  }

  private hasRoom(): boolean {
    if (this.running >= this.limits.maxConcurrent) return false;
    if (this.limits.requestsPerMinute === null) return true;
    const now = this.now();
    while (this.starts.length && now - this.starts[0]! >= WINDOW_MS) this.starts.shift();
    return this.starts.length < this.limits.requestsPerMinute;
  }

  private take(): void {
    this.running++;
    if (this.limits.requestsPerMinute !== null) this.starts.push(this.now());
  }

  private acquire(signal?: AbortSignal): Promise<void> | void {
    if (this.stopped) throw new ProviderError('aborted', 'shutting down');
    if (signal?.aborted) throw new ProviderError('aborted', 'stopped before the request was sent');
    if (this.waiting.length === 0 && this.hasRoom()) {
      this.take();
      return;
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new ProviderError('aborted', 'stopped while waiting for the provider'));
      };
      const waiter = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        fail: (err: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
      this.pump();
    });
  }

  private pump(): void {
    while (this.waiting.length && this.hasRoom()) {
      this.take();
      this.waiting.shift()!.start();
    }
    if (this.waiting.length && !this.timer && this.running < this.limits.maxConcurrent && this.starts.length) {
      // blocked by the per-minute window: wake when its oldest start leaves it
      const wait = Math.max(1, WINDOW_MS - (this.now() - this.starts[0]!));
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, wait);
      this.timer.unref();
    }
  }
}
