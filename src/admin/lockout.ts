/**
 * Login attempts per address: after MAX_FAILURES wrong passwords in a row the address is locked
 * for LOCKOUT_MS, and during the lock even the right password is refused. A success resets.
 *
 * With several instances on PostgreSQL, the failures and locks are shared through the database
 * (lockout-shared.ts): five wrong passwords in all, whichever instances checked them.
 *
 * An attempt counts from the moment it starts, not from when its (slow, scrypt) check ends:
 * otherwise a burst of parallel guesses all pass the lock check before the first failure is
 * counted, and hundreds of passwords get tried in one window instead of MAX_FAILURES.
 */

import type { SharedLoginFailures } from './lockout-shared.js';

export const MAX_FAILURES = 5;
export const LOCKOUT_MS = 15 * 60 * 1000;

/** A lock's length as people read it, rounded up: "locked for 15 minutes". */
export function minutes(ms: number): number {
  return Math.ceil(ms / 60_000);
}
/** failures older than this are forgotten, so a typo a day never adds up to a lock */
export const FAILURE_WINDOW_MS = 15 * 60 * 1000;
const MAX_TRACKED = 10_000;

interface Attempts {
  failures: number[];
  /** checks started and not yet settled */
  inFlight: number;
  lockedUntil: number;
}

/** One started attempt: settle it exactly once with the outcome of the password check. */
export interface LoginAttempt {
  /** a wrong password: returns the lock length when this one locked the address, else 0 */
  fail(): number;
  succeed(): void;
}

export type AttemptStart = { ok: true; attempt: LoginAttempt } | { ok: false; lockedForMs: number };

export class LoginLimiter {
  private readonly byAddress = new Map<string, Attempts>();
  /** shared: the writes of this instance's failures still under way, per address */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(
    private readonly now: () => number = Date.now,
    /** several instances behind one load balancer (PostgreSQL): the failures all of them saw */
    private readonly shared: SharedLoginFailures | null = null,
  ) {}

  /**
   * Before `begin`, with several instances: takes in the failures and locks the others recorded
   * for this address (its own are there too, and counted once). Without them, a no-op.
   */
  async refresh(address: string): Promise<void> {
    if (!this.shared) return;
    // this instance's own failures first, so the read holds them
    await this.writes.get(address);
    const seen = await this.shared.read(address, this.now());
    const attempts = this.byAddress.get(address) ?? { failures: [], inFlight: 0, lockedUntil: 0 };
    attempts.lockedUntil = Math.max(attempts.lockedUntil, seen.lockedUntil);
    attempts.failures = seen.failures;
    this.byAddress.set(address, attempts);
  }

  /** Writes a failure (or a success's clearing) for the other instances, in order per address. */
  private share(address: string, write: (shared: SharedLoginFailures) => Promise<void>): void {
    const shared = this.shared;
    if (!shared) return;
    const done = (this.writes.get(address) ?? Promise.resolve()).then(() => write(shared)).catch(() => undefined);
    this.writes.set(address, done);
    void done.then(() => {
      if (this.writes.get(address) === done) this.writes.delete(address);
    });
  }

  /** Milliseconds left of a lock on this address, or 0. */
  lockedFor(address: string): number {
    const attempts = this.byAddress.get(address);
    if (!attempts) return 0;
    return Math.max(0, attempts.lockedUntil - this.now());
  }

  /**
   * Starts an attempt, synchronously, before any await: refused while the address is locked or
   * while the failures so far plus the attempts still being checked already reach the limit.
   */
  begin(address: string): AttemptStart {
    const now = this.now();
    if (this.byAddress.size > MAX_TRACKED) this.sweep(now);
    const attempts = this.byAddress.get(address) ?? { failures: [], inFlight: 0, lockedUntil: 0 };
    this.byAddress.set(address, attempts);
    if (attempts.lockedUntil > now) return { ok: false, lockedForMs: attempts.lockedUntil - now };
    attempts.failures = attempts.failures.filter((t) => now - t < FAILURE_WINDOW_MS);
    // the attempts in flight may all turn out wrong: refuse until they have settled
    if (attempts.failures.length + attempts.inFlight >= MAX_FAILURES) return { ok: false, lockedForMs: Math.max(1000, attempts.lockedUntil - now) };
    attempts.inFlight++;
    let settled = false;
    const settle = (): Attempts => {
      if (settled) throw new Error('login attempt settled twice');
      settled = true;
      const current = this.byAddress.get(address) ?? attempts;
      current.inFlight = Math.max(0, current.inFlight - 1);
      return current;
    };
    return {
      ok: true,
      attempt: {
        fail: () => this.recordFailure(address, settle()),
        succeed: () => {
          settle();
          this.byAddress.delete(address);
          this.share(address, (shared) => shared.clear(address));
        },
      },
    };
  }

  /** Wrong passwords left before a lock. */
  remaining(address: string): number {
    const now = this.now();
    const attempts = this.byAddress.get(address);
    const failures = (attempts?.failures ?? []).filter((t) => now - t < FAILURE_WINDOW_MS);
    return Math.max(0, MAX_FAILURES - failures.length - (attempts?.inFlight ?? 0));
  }

  private recordFailure(address: string, attempts: Attempts): number {
    const now = this.now();
    attempts.failures = attempts.failures.filter((t) => now - t < FAILURE_WINDOW_MS);
    attempts.failures.push(now);
    if (attempts.failures.length >= MAX_FAILURES && attempts.lockedUntil <= now) {
      attempts.lockedUntil = now + LOCKOUT_MS;
      attempts.failures = [];
      this.byAddress.set(address, attempts);
      const lockedUntil = attempts.lockedUntil;
      this.share(address, (shared) => shared.recordFailure(address, now, lockedUntil));
      return LOCKOUT_MS;
    }
    this.byAddress.set(address, attempts);
    this.share(address, (shared) => shared.recordFailure(address, now, null));
    return 0;
  }

  private sweep(now: number): void {
    for (const [address, a] of this.byAddress) {
      if (a.inFlight === 0 && a.lockedUntil <= now && a.failures.every((t) => now - t >= FAILURE_WINDOW_MS)) this.byAddress.delete(address);
    }
  }
}
