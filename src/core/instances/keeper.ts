import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Leases } from './leases.js';

export interface KeptLease {
  /** whether this instance holds the lease now (as of its last renewal) */
  readonly held: boolean;
  /** settles after the first try: when it was taken, once `onGained` has run */
  readonly settled: Promise<void>;
  /** Stops renewing; a held lease is given up after `onLost` ran, so another instance takes it at once. */
  stop(): Promise<void>;
}

export interface KeepLeaseOptions {
  /** how long the lease lasts without a renewal: a dead holder's work moves after at most this */
  ttlMs: number;
  /** how often it is renewed (and, when another holds it, tried): a third of the ttl by default */
  renewEveryMs?: number;
  /** this instance now holds it: start what it owns (renewals go on meanwhile) */
  onGained: () => Promise<void> | void;
  /** it no longer does (taken over, or the database could not be reached in time): stop at once */
  onLost: (reason: string) => Promise<void> | void;
  log: Logger;
}

/**
 * Keeps trying to hold a lease and renews it while held. Gaining and losing call the owner's
 * start and stop, one after the other, never overlapping. A holder that cannot renew (the
 * database away) gives the work up before the lease can lapse, so two instances never act at once.
 */
export function keepLease(leases: Leases, name: string, options: KeepLeaseOptions): KeptLease {
  const renewEvery = options.renewEveryMs ?? Math.floor(options.ttlMs / 3);
  let held = false;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  // set at each renewal: fires when the next one is overdue, before the lease can lapse, even
  // when the renewal hangs on a connection that never answers
  let deadline: NodeJS.Timeout | null = null;
  let transitions: Promise<void> = Promise.resolve();
  let current: Promise<void> = Promise.resolve();
  let lastError = '';
  let firstTry: (() => void) | null = null;
  const settled = new Promise<void>((resolve) => (firstTry = resolve));

  let renewals = 0;
  /**
   * The next renewal is overdue. One may be under way (the event loop was blocked a while, by a
   * long compile or a GC pause): its answer decides, if it comes within half a renewal period.
   */
  const overdue = async (): Promise<void> => {
    const seen = renewals;
    await Promise.race([current, new Promise((resolve) => setTimeout(resolve, renewEvery / 2).unref())]);
    if (renewals === seen && !stopped) change(false, `could not renew it in time${lastError ? `: ${lastError}` : ''}`);
  };

  const change = (to: boolean, reason = ''): void => {
    if (to) {
      renewals++;
      if (deadline) clearTimeout(deadline);
      deadline = setTimeout(() => void overdue(), Math.max(0, options.ttlMs - renewEvery)).unref();
    } else if (deadline) {
      clearTimeout(deadline);
      deadline = null;
    }
    if (held === to) return;
    held = to;
    options.log.info(to ? `lease ${name}: held by this instance (${leases.holder})` : `lease ${name}: given up (${reason})`);
    transitions = transitions
      .then(() => (to ? options.onGained() : options.onLost(reason)))
      .catch((err) => options.log.error(`lease ${name}: ${to ? 'starting' : 'stopping'} what it covers failed: ${errorMessage(err)}`));
  };

  const attempt = async (): Promise<void> => {
    try {
      const took = await leases.take(name, options.ttlMs);
      lastError = '';
      if (!stopped) change(took, 'another instance holds it');
    } catch (err) {
      lastError = errorMessage(err);
      options.log.warn(`lease ${name}: could not ${held ? 'renew' : 'take'} it: ${lastError}`);
    }
    if (firstTry) {
      const done = firstTry;
      firstTry = null;
      void transitions.then(done);
    }
  };

  const loop = (): void => {
    current = attempt().finally(() => {
      if (!stopped) timer = setTimeout(loop, renewEvery).unref();
    });
  };
  loop();

  return {
    get held() {
      return held;
    },
    settled,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      // a renewal hanging on the database does not hold the shutdown
      await Promise.race([current, new Promise((resolve) => setTimeout(resolve, renewEvery).unref())]);
      const wasHeld = held;
      change(false, 'this instance is stopping');
      await transitions;
      if (wasHeld) await leases.release(name).catch((err) => options.log.warn(`lease ${name}: could not release it: ${errorMessage(err)}`));
    },
  };
}
