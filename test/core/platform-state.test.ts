import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Leases } from '../../src/core/instances/leases.js';
import { DatabasePlatformState, platformLease } from '../../src/core/instances/platform-state.js';
import { SecretBox } from '../../src/core/secrets.js';
import { createTestDatabase } from '../support/db.js';

// on SQLite, or on PostgreSQL when THREADLOOM_TEST_DATABASE_URL is set (where instances use it)
let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeEach(async () => {
  database = await createTestDatabase();
});
afterEach(async () => {
  await database.cleanup();
});

const LEASE = platformLease('matrix');
const box = new SecretBox(Buffer.alloc(32, 7), 'env');
const stateOf = (instance: string) => new DatabasePlatformState(database.db, instance, LEASE, () => box);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('platform state in the database', () => {
  it('keeps bytes for the next holder of the lease, and refuses the writes of an instance that lost it', async () => {
    const a = stateOf('a');
    const b = stateOf('b');
    expect(await new Leases(database.db, 'a').take(LEASE, 200)).toBe(true);
    const snapshot = Buffer.from([0, 1, 2, 255, 0, 128]);
    await a.write('matrix:store', snapshot);
    expect(await b.read('matrix:store')).toEqual(snapshot);
    // b cannot write while a holds it
    await expect(b.write('matrix:store', Buffer.from('b'))).rejects.toThrow(/no longer holds platform:matrix/);

    // a stalls past its lease and b takes the platform over: a's late write must not land
    await sleep(250);
    await expect(a.write('matrix:store', Buffer.from('stale'))).rejects.toThrow(/no longer holds platform:matrix/);
    expect(await new Leases(database.db, 'b').take(LEASE, 60_000)).toBe(true);
    await b.write('matrix:store', Buffer.from('newer'));
    await expect(a.write('matrix:store', Buffer.from('stale'))).rejects.toThrow(/no longer holds/);
    expect((await a.read('matrix:store'))?.toString()).toBe('newer');
  });

  it('makes a shared secret once, sealed, and gives every instance the same one', async () => {
    expect(await new Leases(database.db, 'a').take(LEASE, 60_000)).toBe(true);
    const first = await stateOf('a').secret('matrix:store-key');
    expect(first).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(await stateOf('a').secret('matrix:store-key')).toBe(first);
    // the next holder reads the same key; the stored bytes are sealed, not the key itself
    expect(await stateOf('b').secret('matrix:store-key')).toBe(first);
    const stored = (await stateOf('b').read('matrix:store-key'))!.toString();
    expect(stored).not.toContain(first);
    expect(box.open(stored)).toBe(first);
  });

  it('keeps a store of another device aside instead of reusing it', async () => {
    expect(await new Leases(database.db, 'a').take(LEASE, 60_000)).toBe(true);
    const a = stateOf('a');
    expect(await a.moveAside('matrix:store', 'matrix:store:old')).toBe(false);
    await a.write('matrix:store', Buffer.from('device one'));
    expect(await a.moveAside('matrix:store', 'matrix:store:old')).toBe(true);
    expect(await a.read('matrix:store')).toBeNull();
    expect((await a.read('matrix:store:old'))?.toString()).toBe('device one');
  });
});
