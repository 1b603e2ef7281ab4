import type { Db } from '../core/db/open.js';

/** What the other instances know of one address: its failures since its last lock, and the lock. */
export interface SharedAttempts {
  failures: number[];
  lockedUntil: number;
}

/**
 * The login lockout's memory when several instances share PostgreSQL behind a load balancer:
 * without it an address got five wrong passwords per instance. Each instance still counts its
 * own attempts in flight (see lockout.ts); the failures and locks are read from here before an
 * attempt starts and written here as they happen.
 */
export class SharedLoginFailures {
  constructor(
    private readonly db: Db,
    private readonly windowMs: number,
  ) {}

  async read(address: string, now: number): Promise<SharedAttempts> {
    const rows = await this.db.selectFrom('login_failures').select(['at', 'locked_until']).where('address', '=', address).where('at', '>', now - this.windowMs).orderBy('at').execute();
    const locks = rows.filter((r) => r.locked_until !== null);
    const lastLock = locks.at(-1);
    // a lock starts the count afresh, as it does in one instance
    const since = lastLock ? Number(lastLock.at) : -Infinity;
    return { failures: rows.filter((r) => Number(r.at) > since).map((r) => Number(r.at)), lockedUntil: lastLock ? Number(lastLock.locked_until) : 0 };
  }

  async recordFailure(address: string, at: number, lockedUntil: number | null): Promise<void> {
    await this.db.insertInto('login_failures').values({ address, at, locked_until: lockedUntil }).execute();
    await this.db.deleteFrom('login_failures').where('at', '<=', at - this.windowMs).execute();
  }

  async clear(address: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('address', '=', address).execute();
  }
}
