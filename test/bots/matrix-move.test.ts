import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { databaseVault, fileVault } from '../../src/bots/matrix/vault.js';
import { migrateToLatest } from '../../src/core/db/migrate.js';
import { openDatabase } from '../../src/core/db/open.js';
import { openPostgres } from '../../src/core/db/postgres.js';
import { Leases } from '../../src/core/instances/leases.js';
import { DatabasePlatformState, platformLease } from '../../src/core/instances/platform-state.js';
import { loadSecretBox } from '../../src/core/secrets.js';
import { spawnThreadloom } from '../support/process.js';
import { TEST_POSTGRES_URL, freshPostgresDatabase } from '../support/postgres.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/**
 * A Matrix bot moved to PostgreSQL keeps its device: `migrate-to-postgres` carries its session,
 * its crypto store and its store key from the data dir into the database, where the instances'
 * vault reads the same session, the same snapshot and derives the same keys.
 */
describe.skipIf(!TEST_POSTGRES_URL)('migrate-to-postgres and the Matrix bot', () => {
  it('moves the session, the crypto store and the generated store key, so the bot goes on as the same device', { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-matrix-move-'));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const sqlite = openDatabase(path.join(dataDir, 'threadloom.db'));
    await migrateToLatest(sqlite.db);
    await sqlite.close();
    // what a bot that ran on this data dir left: a generated key, its session, its store snapshot
    const files = fileVault(dataDir);
    const keys = await files.keys(undefined);
    expect(keys.source).toBe('generated');
    const session = { homeserverURL: 'https://matrix.example.org', userId: '@threadloom:example.org', deviceId: 'DEVICEONE', accessToken: 'syt_secret_token' };
    await files.saveSession(keys.file, session);
    const snapshot = Buffer.from('an encrypted snapshot of the crypto store');
    await files.snapshot.write(snapshot);

    const server = await freshPostgresDatabase(TEST_POSTGRES_URL!);
    cleanup.push(() => server.drop());
    const env = { THREADLOOM_DATA_DIR: dataDir, THREADLOOM_SECRET_KEY: 'the key every instance shares' };
    const move = spawnThreadloom('src/cli.ts', ['migrate-to-postgres', server.url], env);
    const code = await move.exited;
    expect(code, move.stderr()).toBe(0);

    const target = openPostgres(server.url);
    cleanup.push(() => target.close());
    // an instance holding Matrix on PostgreSQL reads it back
    const state = new DatabasePlatformState(target.db, 'instance-b', platformLease('matrix'), () => loadSecretBox(dataDir, env));
    expect(await new Leases(target.db, 'instance-b').take(platformLease('matrix'), 60_000)).toBe(true);
    const vault = databaseVault(state);
    const moved = await vault.keys(undefined);
    expect(Buffer.from(moved.file).equals(keys.file)).toBe(true);
    expect(Buffer.from(moved.crypto)).toEqual(Buffer.from(keys.crypto));
    expect(await vault.readSession(moved.file)).toEqual(session);
    expect(await vault.snapshot.read()).toEqual(snapshot);
    // the key is not in the database in the clear
    const rows = await target.db.selectFrom('platform_state').select(['name', 'content']).execute();
    expect(rows.map((r) => r.name).sort()).toEqual(['matrix:session', 'matrix:store', 'matrix:store-key']);
    expect(rows.some((r) => Buffer.from(r.content).toString('utf8').includes('syt_secret_token'))).toBe(false);
  });
});
