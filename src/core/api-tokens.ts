import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './db/open.js';

export interface ApiToken {
  id: number;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const PREFIX = 'tl-';
const LAST_USED_PRECISION_MS = 60_000;
const hash = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Makes a token; the plain token is returned once and only its hash is stored. */
export async function createApiToken(db: Db, name: string): Promise<{ token: string; id: number }> {
  const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
  const row = await db.insertInto('api_tokens').values({ name, token_hash: hash(token), last_used_at: null, revoked_at: null }).returning('id').executeTakeFirstOrThrow();
  return { token, id: row.id };
}

/**
 * The token's row when it is valid (known and not revoked), else null. The lookup is by hash, so
 * comparing hashes is the constant-time part: the database never sees the token itself.
 */
export async function verifyApiToken(db: Db, token: string, now: Date): Promise<ApiToken | null> {
  if (!token.startsWith(PREFIX)) return null;
  const row = await db.selectFrom('api_tokens').selectAll().where('token_hash', '=', hash(token)).executeTakeFirst();
  if (!row || row.revoked_at) return null;
  // "last used" is shown to the minute: a client making many calls writes it once a minute, not per call
  const shown = row.last_used_at;
  if (shown !== null && now.getTime() - Date.parse(shown) < LAST_USED_PRECISION_MS) {
    return { id: row.id, name: row.name, createdAt: row.created_at, lastUsedAt: shown, revokedAt: null };
  }
  await db.updateTable('api_tokens').set({ last_used_at: now.toISOString() }).where('id', '=', row.id).execute();
  return { id: row.id, name: row.name, createdAt: row.created_at, lastUsedAt: now.toISOString(), revokedAt: null };
}

export async function listApiTokens(db: Db): Promise<ApiToken[]> {
  const rows = await db.selectFrom('api_tokens').selectAll().orderBy('id', 'desc').execute();
  return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at }));
}

export async function revokeApiToken(db: Db, id: number, now: Date): Promise<boolean> {
  const result = await db.updateTable('api_tokens').set({ revoked_at: now.toISOString() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
