import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../core/db/open.js';

/**
 * Admin sessions, kept in the database so a restart or an upgrade does not sign the admin out.
 * The cookie carries a random id; the table holds only its SHA-256 (a backup opens no session).
 * Each session carries its own CSRF token and a one-time flash message. Idle sessions expire.
 * `last_seen_at` is written at most once a minute, not on every request.
 */

export const SESSION_COOKIE = 'tl_session';
export const SESSION_IDLE_MS = 8 * 60 * 60 * 1000;
const MAX_SESSIONS = 1000;
const TOUCH_EVERY_MS = 60_000;

export interface Session {
  /** the cookie's value */
  id: string;
  csrf: string;
  /** the address that logged in, for the audit log */
  address: string;
  createdAt: number;
  lastSeen: number;
  /** one message shown on the next page rendered (after a POST-redirect-GET) */
  flash: string | null;
}

function token(): string {
  return randomBytes(32).toString('base64url');
}

const hashOf = (id: string): string => createHash('sha256').update(id).digest('hex');
const iso = (ms: number): string => new Date(ms).toISOString();

export function sameToken(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export class SessionStore {
  /** the flash each session had when it was read, to write back only a change */
  private readonly flashAtRead = new WeakMap<Session, string | null>();

  constructor(private readonly db: Db, private readonly now: () => number = Date.now, private readonly idleMs = SESSION_IDLE_MS) {}

  async create(address: string): Promise<Session> {
    const now = this.now();
    await this.sweep(now);
    const session: Session = { id: token(), csrf: token(), address, createdAt: now, lastSeen: now, flash: null };
    await this.db
      .insertInto('admin_sessions')
      .values({ id_hash: hashOf(session.id), csrf: session.csrf, address, created_at: iso(now), last_seen_at: iso(now), flash: null })
      .execute();
    this.flashAtRead.set(session, null);
    return session;
  }

  /** The live session for a cookie value, touched; null when unknown or idle too long. */
  async find(id: string | undefined): Promise<Session | null> {
    if (!id || id.length > 100) return null;
    const row = await this.db.selectFrom('admin_sessions').selectAll().where('id_hash', '=', hashOf(id)).executeTakeFirst();
    if (!row) return null;
    const now = this.now();
    const lastSeen = Date.parse(row.last_seen_at);
    if (now - lastSeen > this.idleMs) {
      await this.destroy(id);
      return null;
    }
    if (now - lastSeen >= TOUCH_EVERY_MS) {
      await this.db.updateTable('admin_sessions').set({ last_seen_at: iso(now) }).where('id_hash', '=', row.id_hash).execute();
    }
    const session: Session = { id, csrf: row.csrf, address: row.address, createdAt: Date.parse(row.created_at), lastSeen: now, flash: row.flash };
    this.flashAtRead.set(session, row.flash);
    return session;
  }

  /** Writes the session's flash back when a route set or a page consumed it. */
  async saveFlash(session: Session): Promise<void> {
    if (this.flashAtRead.get(session) === session.flash) return;
    await this.db.updateTable('admin_sessions').set({ flash: session.flash }).where('id_hash', '=', hashOf(session.id)).execute();
    this.flashAtRead.set(session, session.flash);
  }

  async destroy(id: string): Promise<void> {
    await this.db.deleteFrom('admin_sessions').where('id_hash', '=', hashOf(id)).execute();
  }

  /** Ends every session but `keepId` (after a password change); returns how many ended. */
  async destroyAllExcept(keepId: string): Promise<number> {
    const result = await this.db.deleteFrom('admin_sessions').where('id_hash', '!=', hashOf(keepId)).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  private async sweep(now: number): Promise<void> {
    await this.db.deleteFrom('admin_sessions').where('last_seen_at', '<', iso(now - this.idleMs)).execute();
    // never grow without bound: drop the oldest when a script keeps logging in
    const { count } = await this.db.selectFrom('admin_sessions').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
    if (Number(count) < MAX_SESSIONS) return;
    const oldest = this.db.selectFrom('admin_sessions').select('id_hash').orderBy('last_seen_at').limit(Number(count) - MAX_SESSIONS + 1);
    await this.db.deleteFrom('admin_sessions').where('id_hash', 'in', oldest).execute();
  }
}
