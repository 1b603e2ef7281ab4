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
