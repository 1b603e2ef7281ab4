import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { isPostgres, nowMs } from '../db/dialect.js';
import type { Db } from '../db/open.js';
import { ThreadloomError } from '../errors.js';
import type { SecretBox } from '../secrets.js';

/**
 * What a platform connected by one instance at a time keeps for whoever holds it next, when
 * several instances share one PostgreSQL database: Matrix's session and crypto store live here
 * instead of in one instance's data dir, so the instance that takes the platform over goes on as
 * the same device with the same keys.
 *
 * Writes are fenced by the platform's lease: a write lands only while this instance holds the
 * lease and it has not lapsed, in the same statement. A holder that was stalled past its lease
 * (and replaced) cannot overwrite what the new holder wrote since: its write fails instead.
 */
export interface PlatformStateStore {
  /** where the state is, for messages */
  readonly where: string;
  read(name: string): Promise<Buffer | null>;
  /** Stores `content` under `name`; a ThreadloomError when this instance no longer holds the lease. */
  write(name: string, content: Buffer): Promise<void>;
  /** Keeps `name` aside under `aside` (a store that belonged to another device); false when there was none. */
  moveAside(name: string, aside: string): Promise<boolean>;
  /**
   * A secret shared by every holder (e.g. the key the store is encrypted with), sealed with
   * THREADLOOM_SECRET_KEY: made once by whichever instance asks first, then read by all.
   */
  secret(name: string): Promise<string>;
  /** Keeps `value` as the secret `name` (sealed), replacing any: a secret brought from elsewhere. */
  keepSecret(name: string, value: string): Promise<void>;
}

/** The lease of a platform one instance at a time connects: `platform:<name>`. */
export const platformLease = (platform: string): string => `platform:${platform}`;

export class DatabasePlatformState implements PlatformStateStore {
  readonly where = 'the database (platform_state)';

  constructor(
    private readonly db: Db,
    /** this instance: the holder the lease must name */
    private readonly instance: string,
    /** the lease whose holder alone may write */
    private readonly lease: string,
    private readonly secrets: () => SecretBox,
  ) {}

  async read(name: string): Promise<Buffer | null> {
    const row = await this.db.selectFrom('platform_state').select('content').where('name', '=', name).executeTakeFirst();
    return row ? Buffer.from(row.content) : null;
  }

  async write(name: string, content: Buffer): Promise<void> {
    if (!(await this.fencedWrite(name, content, 'replace'))) {
      throw new ThreadloomError('platform', `not saved: this instance no longer holds ${this.lease} (another instance took the platform over)`);
    }
  }

  async moveAside(name: string, aside: string): Promise<boolean> {
    const content = await this.read(name);
    if (!content) return false;
    await this.write(aside, content);
    await this.db.deleteFrom('platform_state').where('name', '=', name).execute();
    return true;
  }

  async secret(name: string): Promise<string> {
    const box = this.secrets();
    const stored = await this.read(name);
    if (stored) return box.open(stored.toString('utf8'));
    // the first instance to ask makes it; one that asks at the same moment keeps the first one's
    await this.fencedWrite(name, Buffer.from(box.seal(randomBytes(32).toString('base64'))), 'keep');
    const made = await this.read(name);
    if (!made) throw new ThreadloomError('platform', `could not make ${name}: this instance does not hold ${this.lease}`);
    return box.open(made.toString('utf8'));
  }

  async keepSecret(name: string, value: string): Promise<void> {
    await this.write(name, Buffer.from(this.secrets().seal(value)));
  }

  /** One statement: insert or update `name` if this instance holds the unexpired lease. */
  private async fencedWrite(name: string, content: Buffer, onExisting: 'replace' | 'keep'): Promise<boolean> {
    const now = nowMs(this.db);
    const holding = this.db
      .selectFrom('leases')
      // typed, or PostgreSQL reads the parameters of a SELECT list as text
      .select([sql<string>`cast(${name} as text)`.as('name'), (isPostgres(this.db) ? sql<Buffer>`cast(${content} as bytea)` : sql<Buffer>`${content}`).as('content'), sql<string>`cast(${this.instance} as text)`.as('written_by')])
      .where('name', '=', this.lease)
      .where('holder', '=', this.instance)
      .where('expires_at', '>', now);
    const written = await this.db
      .insertInto('platform_state')
      .columns(['name', 'content', 'written_by'])
      .expression(holding)
      .onConflict((oc) =>
        onExisting === 'keep'
          ? oc.column('name').doNothing()
          : oc.column('name').doUpdateSet((eb) => ({ content: eb.ref('excluded.content'), written_by: eb.ref('excluded.written_by'), updated_at: new Date().toISOString() })),
      )
      .returning('name')
      .executeTakeFirst();
    return onExisting === 'keep' || written !== undefined;
  }
}
