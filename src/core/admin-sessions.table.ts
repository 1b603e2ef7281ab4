/**
 * Admin web sessions (migration 2026-12-03T0300); the cookie value is kept only as its SHA-256.
 * The repository is src/admin/sessions.ts; the type is here because core holds the table list.
 */
export interface AdminSessionTable {
  id_hash: string;
  csrf: string;
  address: string;
  created_at: string;
  last_seen_at: string;
  flash: string | null;
}

/**
 * Wrong admin passwords per address (migration 2026-12-03T1270), read and written only when
 * several instances share PostgreSQL; the repository is src/admin/lockout-shared.ts.
 */
export interface LoginFailureTable {
  address: string;
  /** ms since the epoch */
  at: number;
  /** set on the failure that locked the address: until when */
  locked_until: number | null;
}
