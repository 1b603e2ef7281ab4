import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiToken, listApiTokens, revokeApiToken, verifyApiToken } from '../../src/core/api-tokens.js';
import { createTestDatabase } from '../support/db.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;

beforeEach(async () => {
  database = await createTestDatabase();
});

afterEach(async () => {
  await database.cleanup();
});

/** Changes as the database counts them: SQLite's total_changes(), PostgreSQL's row version (xmin). */
async function writes(): Promise<string> {
  if (database.kind === 'sqlite') return String((database.sqlite.prepare('SELECT total_changes() AS n').get() as { n: number }).n);
  const { rows } = await sql<{ v: string }>`SELECT string_agg(xmin::text, ',') AS v FROM api_tokens`.execute(database.db);
  return rows[0]!.v;
}

describe('API tokens', () => {
  it('shows when a token was last used, to the minute, without a write on every call', async () => {
    const { token } = await createApiToken(database.db, 'open-webui');
    const at = (iso: string) => new Date(iso);
    expect((await verifyApiToken(database.db, token, at('2026-12-03T10:00:00.000Z')))?.lastUsedAt).toBe('2026-12-03T10:00:00.000Z');
    // calls within the minute keep the first time, and the row is not written again
    const before = await writes();
    for (const second of ['10', '30', '59']) await verifyApiToken(database.db, token, at(`2026-12-03T10:00:${second}.000Z`));
    expect(await writes()).toBe(before);
    expect((await listApiTokens(database.db))[0]!.lastUsedAt).toBe('2026-12-03T10:00:00.000Z');
    // a minute later it moves on
    await verifyApiToken(database.db, token, at('2026-12-03T10:01:05.000Z'));
    expect((await listApiTokens(database.db))[0]!.lastUsedAt).toBe('2026-12-03T10:01:05.000Z');
  });

  it('refuses a revoked or unknown token', async () => {
    const { token, id } = await createApiToken(database.db, 'script');
    expect(await verifyApiToken(database.db, 'tl-unknown', new Date())).toBeNull();
    expect(await revokeApiToken(database.db, id, new Date())).toBe(true);
    expect(await verifyApiToken(database.db, token, new Date())).toBeNull();
  });
});
