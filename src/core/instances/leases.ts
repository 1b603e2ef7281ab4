import { nowMs } from '../db/dialect.js';
import type { Db } from '../db/open.js';

export interface LeaseHold {
  holder: string;
  /** when this holder took the lease (ms since the epoch, the database's clock) */
  since: number;
  /** how long it stays held without a renewal */
  remainingMs: number;
}

/**
 * Leases in the database: what one instance at a time may do. Taking a lease succeeds when nobody
 * holds it, its holder let it lapse, or the taker already holds it (then it is a renewal). One
 * statement decides, so two instances asking at once cannot both win, on SQLite or PostgreSQL.
 */
export class Leases {
  constructor(
    private readonly db: Db,
    /** this instance's name: stored as the holder */
    readonly holder: string,
  ) {}

  /** Takes or renews `name` for `ttlMs`; false when another instance holds it. */
  async take(name: string, ttlMs: number): Promise<boolean> {
    const now = nowMs(this.db);
    const row = await this.db
      .insertInto('leases')
      .values((eb) => ({ name, holder: this.holder, expires_at: eb(now, '+', ttlMs), since: now }))
      .onConflict((oc) =>
        oc.column('name').doUpdateSet((eb) => ({
          holder: eb.ref('excluded.holder'),
          expires_at: eb.ref('excluded.expires_at'),
          // a renewal keeps when it was taken; a takeover starts afresh
          since: eb.case().when('leases.holder', '=', eb.ref('excluded.holder')).then(eb.ref('leases.since')).else(eb.ref('excluded.since')).end(),
        })).where((eb) => eb.or([eb('leases.holder', '=', eb.ref('excluded.holder')), eb('leases.expires_at', '<=', now)])),
      )
      .returning('holder')
      .executeTakeFirst();
    return row?.holder === this.holder;
  }

  /** Gives `name` up at once, if this instance holds it, so another need not wait for it to lapse. */
  async release(name: string): Promise<void> {
    await this.db.deleteFrom('leases').where('name', '=', name).where('holder', '=', this.holder).execute();
  }

  /** Who holds `name` now, or null when nobody does (or the last holder let it lapse). */
  async holderOf(name: string): Promise<LeaseHold | null> {
    const now = nowMs(this.db);
    const row = await this.db
      .selectFrom('leases')
      .select((eb) => ['holder', 'since', eb(eb.ref('expires_at'), '-', now).as('remaining')])
      .where('name', '=', name)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row ? { holder: row.holder, since: Number(row.since), remainingMs: Number(row.remaining) } : null;
  }
}
