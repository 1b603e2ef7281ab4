import { randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Admin sessions, in memory: a restart logs everyone out, which for a one-person LAN tool is a
 * feature. Each session carries its own CSRF token. Idle sessions expire.
 */

export const SESSION_COOKIE = 'tl_session';
export const SESSION_IDLE_MS = 8 * 60 * 60 * 1000;
const MAX_SESSIONS = 1000;

export interface Session {
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

export function sameToken(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now, private readonly idleMs = SESSION_IDLE_MS) {}

  create(address: string): Session {
    const now = this.now();
    this.sweep(now);
    const session: Session = { id: token(), csrf: token(), address, createdAt: now, lastSeen: now, flash: null };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session for a cookie value, touched; null when unknown or idle too long. */
  find(id: string | undefined): Session | null {
    if (!id) return null;
    const session = this.sessions.get(id);
    if (!session) return null;
    const now = this.now();
    if (now - session.lastSeen > this.idleMs) {
      this.sessions.delete(id);
      return null;
    }
    session.lastSeen = now;
    return session;
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }

  private sweep(now: number): void {
    for (const [id, s] of this.sessions) if (now - s.lastSeen > this.idleMs) this.sessions.delete(id);
    // never grow without bound: drop the oldest when a script keeps logging in
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
  }
}
