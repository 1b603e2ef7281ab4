import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiToken, listApiTokens, revokeApiToken, verifyApiToken } from '../../src/core/api-tokens.js';
import { migrateToLatest } from '../../src/core/db/migrate.js';
import { openDatabase } from '../../src/core/db/open.js';

let dir: string;
let database: ReturnType<typeof openDatabase>;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'threadloom-tokens-'));
  database = openDatabase(path.join(dir, 'threadloom.db'));
  await migrateToLatest(database.db);
});

afterEach(async () => {
  await database.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('API tokens', () => {
  it('shows when a token was last used, to the minute, without a write on every call', async () => {
    const { token } = await createApiToken(database.db, 'open-webui');
    const at = (iso: string) => new Date(iso);
    expect((await verifyApiToken(database.db, token, at('2026-12-03T10:00:00.000Z')))?.lastUsedAt).toBe('2026-12-03T10:00:00.000Z');
    // calls within the minute keep the first time, and the row is not written again
    const changes = () => (database.sqlite.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    const before = changes();
    for (const second of ['10', '30', '59']) await verifyApiToken(database.db, token, at(`2026-12-03T10:00:${second}.000Z`));
    expect(changes()).toBe(before);
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
