import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keepLease, type KeptLease } from '../../src/core/instances/keeper.js';
import { Leases } from '../../src/core/instances/leases.js';
import type { Logger } from '../../src/core/log.js';
import { createTestDatabase } from '../support/db.js';
import { until } from '../support/wait.js';

// on SQLite, or on PostgreSQL when THREADLOOM_TEST_DATABASE_URL is set: the same statements decide
let database: Awaited<ReturnType<typeof createTestDatabase>>;
const kept: KeptLease[] = [];
const lines: string[] = [];
const log: Logger = { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };

beforeEach(async () => {
  database = await createTestDatabase();
  lines.length = 0;
});
afterEach(async () => {
  await Promise.all(kept.splice(0).map((k) => k.stop()));
  await database.cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('leases', () => {
  it('lets one instance at a time hold a lease; a renewal keeps it, a release frees it at once', async () => {
    const a = new Leases(database.db, 'a');
    const b = new Leases(database.db, 'b');
    expect(await a.take('platform:discord', 60_000)).toBe(true);
    expect(await b.take('platform:discord', 60_000)).toBe(false);
    const first = await a.holderOf('platform:discord');
    expect(first).toMatchObject({ holder: 'a' });
    expect(first!.remainingMs).toBeGreaterThan(50_000);

    await sleep(5);
    expect(await a.take('platform:discord', 60_000)).toBe(true);
    expect((await b.holderOf('platform:discord'))?.since).toBe(first!.since);
    // another lease is another matter
    expect(await b.take('platform:matrix', 60_000)).toBe(true);

    await b.release('platform:discord'); // not b's: nothing happens
    expect((await b.holderOf('platform:discord'))?.holder).toBe('a');
    await a.release('platform:discord');
    expect(await b.holderOf('platform:discord')).toBeNull();
    expect(await b.take('platform:discord', 60_000)).toBe(true);
    expect(await a.take('platform:discord', 60_000)).toBe(false);
  });

  it('gives a lease its holder let lapse to the next instance that asks, and not back', async () => {
    const a = new Leases(database.db, 'a');
    const b = new Leases(database.db, 'b');
    expect(await a.take('backups', 100)).toBe(true);
    await sleep(200);
    expect(await a.holderOf('backups')).toBeNull();
    expect(await b.take('backups', 60_000)).toBe(true);
    expect(await a.take('backups', 60_000)).toBe(false);
    const taken = await a.holderOf('backups');
    expect(taken?.holder).toBe('b');
  });

  it('lets exactly one of many instances asking at once win', async () => {
    const askers = Array.from({ length: 8 }, (_, i) => new Leases(database.db, `instance-${i}`));
    const won = await Promise.all(askers.map((l) => l.take('platform:matrix', 60_000)));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect((await askers[0]!.holderOf('platform:matrix'))?.holder).toBe(`instance-${won.indexOf(true)}`);
  });
});

describe(keepLease.name, () => {
  function keeper(holder: string, events: string[], leases = new Leases(database.db, holder), ttlMs = 600) {
    const k = keepLease(leases, 'platform:discord', {
      ttlMs,
      renewEveryMs: 50,
      onGained: () => void events.push(`${holder} started`),
      onLost: (reason) => void events.push(`${holder} stopped: ${reason}`),
      log,
    });
    kept.push(k);
    return k;
  }

  it('starts the work on one instance only and moves it when that instance stops', async () => {
    const events: string[] = [];
    const a = keeper('a', events);
    await until(() => a.held);
    const b = keeper('b', events);
    await sleep(200); // several of b's tries
    expect(b.held).toBe(false);
    expect(events).toEqual(['a started']);

    await a.stop();
    await until(() => b.held);
    expect(events).toEqual(['a started', 'a stopped: this instance is stopping', 'b started']);
  });

  it('stops the work before the lease can lapse when it cannot be renewed, even when renewing hangs', async () => {
    for (const away of ['refused', 'hangs'] as const) {
      const events: string[] = [];
      const leases = new Leases(database.db, `a-${away}`);
      const observer = new Leases(database.db, 'observer');
      let databaseAway = false;
      let holderAtLoss: string | undefined;
      const flaky = Object.assign(Object.create(leases) as Leases, {
        take: (name: string, ttl: number) =>
          !databaseAway ? leases.take(name, ttl) : away === 'refused' ? Promise.reject(new Error('connection refused')) : new Promise<boolean>(() => {}),
      });
      const k = keepLease(flaky, 'platform:matrix', {
        ttlMs: 3_000,
        renewEveryMs: 1_000,
        onGained: () => void events.push('started'),
        onLost: async (reason) => {
          events.push(`stopped: ${reason}`);
          holderAtLoss = (await observer.holderOf('platform:matrix'))?.holder;
        },
        log,
      });
      kept.push(k);
      await until(() => k.held);
      databaseAway = true;
      await until(() => !k.held && holderAtLoss);
      expect(events).toEqual(['started', away === 'refused' ? 'stopped: could not renew it in time: connection refused' : 'stopped: could not renew it in time']);
      // it gave the work up while its lease still held: nobody else could have started meanwhile
      expect(holderAtLoss).toBe(`a-${away}`);
      // and the lease lapses for the next instance
      while (!(await observer.take('platform:matrix', 60_000))) await sleep(100);
      await observer.release('platform:matrix');
    }
  });
});
