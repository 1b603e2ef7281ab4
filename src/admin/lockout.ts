/**
 * Login attempts per address: after MAX_FAILURES wrong passwords in a row the address is locked
 * for LOCKOUT_MS, and during the lock even the right password is refused. A success resets.
 */

export const MAX_FAILURES = 5;
export const LOCKOUT_MS = 15 * 60 * 1000;
/** failures older than this are forgotten, so a typo a day never adds up to a lock */
const FAILURE_WINDOW_MS = 15 * 60 * 1000;
const MAX_TRACKED = 10_000;

interface Attempts {
  failures: number[];
  lockedUntil: number;
}

export class LoginLimiter {
  private readonly byAddress = new Map<string, Attempts>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Milliseconds left of a lock on this address, or 0. */
  lockedFor(address: string): number {
    const attempts = this.byAddress.get(address);
    if (!attempts) return 0;
    return Math.max(0, attempts.lockedUntil - this.now());
  }

  /** Records a wrong password; returns the lock length when this one locked the address. */
  fail(address: string): number {
    const now = this.now();
    if (this.byAddress.size > MAX_TRACKED) this.sweep(now);
    const attempts = this.byAddress.get(address) ?? { failures: [], lockedUntil: 0 };
    attempts.failures = attempts.failures.filter((t) => now - t < FAILURE_WINDOW_MS);
    attempts.failures.push(now);
    if (attempts.failures.length >= MAX_FAILURES) {
      attempts.lockedUntil = now + LOCKOUT_MS;
      attempts.failures = [];
    }
    this.byAddress.set(address, attempts);
    return Math.max(0, attempts.lockedUntil - now);
  }

  /** Wrong passwords left before a lock. */
  remaining(address: string): number {
    const now = this.now();
    const failures = (this.byAddress.get(address)?.failures ?? []).filter((t) => now - t < FAILURE_WINDOW_MS);
    return MAX_FAILURES - failures.length;
  }

  succeed(address: string): void {
    this.byAddress.delete(address);
  }

  private sweep(now: number): void {
    for (const [address, a] of this.byAddress) {
      if (a.lockedUntil <= now && a.failures.every((t) => now - t >= FAILURE_WINDOW_MS)) this.byAddress.delete(address);
    }
  }
}
