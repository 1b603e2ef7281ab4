import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunningTotals, type BudgetScope } from '../../src/core/budgets/totals.js';
import { windowOf } from '../../src/core/budgets/periods.js';
import { openConfiguredDatabase } from '../../src/core/db/open.js';
import { recordUsage } from '../../src/core/usage/ledger.js';
import type { NewUsageEventRow } from '../../src/core/usage/table.js';
import { createTestDatabase } from '../support/db.js';
import { TEST_POSTGRES_URL } from '../support/postgres.js';
import { instanceLease } from '../../src/core/instances/interrupted.js';
import { Leases } from '../../src/core/instances/leases.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeEach(async () => {
  database = await createTestDatabase();
});
afterEach(async () => {
  await database.cleanup();
});

const NOW = new Date('2026-11-22T20:48:00.000Z');
const ada: BudgetScope = { kind: 'user', platform: 'discord', userId: 'ada' };

function usage(tokens: number, usd: number, userId = 'ada'): NewUsageEventRow {
  return { platform: 'discord', user_id: userId, experience_id: null, provider: 'openai', model: 'openai/gpt-4o-mini', purpose: 'chat',
    tokens_in: tokens, tokens_out: 0, estimated: 0, cost_usd: usd, status: 'ok', created_at: NOW.toISOString() };
}

describe('running totals for budgets', () => {
  it('count what was spent before the start and what this process records since, once each', async () => {
    await recordUsage(database.db, [usage(100, 0.01)]);
    const totals = new RunningTotals(database.db, () => NOW);
    await totals.start();
    await recordUsage(database.db, [usage(50, 0.005), usage(7, 0, 'bo')]);
    for (const period of ['daily', 'monthly'] as const) {
      const window = windowOf(period, NOW);
      await totals.ensure(ada, window);
      expect(totals.used(ada, window)).toEqual({ tokens: 150, usd: 0.015 });
      await totals.ensure({ kind: 'global' }, window);
      expect(totals.used({ kind: 'global' }, window).tokens).toBe(157);
    }
    totals.stop();
  });

  it.skipIf(!TEST_POSTGRES_URL)('see what other instances spent since the start, on PostgreSQL', async () => {
    const totals = new RunningTotals(database.db, () => NOW);
    await totals.start();
    const window = windowOf('daily', NOW);
    await totals.ensure(ada, window);
    expect(totals.used(ada, window).tokens).toBe(0);
    // another instance: its own pool, recording on the same ledger
    const other = openConfiguredDatabase({ url: database.url, file: '' });
    try {
      await recordUsage(other.db, [usage(40, 0.004)]);
      await recordUsage(database.db, [usage(2, 0)]);
      await totals.ensure(ada, window);
      expect(totals.used(ada, window)).toEqual({ tokens: 42, usd: 0.004 });
    } finally {
      await other.close();
      totals.stop();
    }
  });

  it.skipIf(!TEST_POSTGRES_URL)('let two instances checking at once take the last of a budget once, and drop the holds of an instance that died, on PostgreSQL', async () => {
    const window = windowOf('daily', NOW);
    const places = [{ scope: ada, window }];
    const other = openConfiguredDatabase({ url: database.url, file: '' });
    const a = new RunningTotals(database.db, () => NOW, 'instance-a');
    const b = new RunningTotals(other.db, () => NOW, 'instance-b');
    try {
      await Promise.all([a.start(), b.start()]);
      await new Leases(database.db, 'instance-a').take(instanceLease('instance-a'), 60_000);
      await new Leases(database.db, 'instance-b').take(instanceLease('instance-b'), 60_000);
      await recordUsage(database.db, [usage(60, 0)]);
      // 100 tokens a day: 60 spent, room for one answer of 30, not two
      const limit = (totals: RunningTotals) => () => {
        const spent = totals.used(ada, window).tokens + totals.inFlight(ada, window).tokens;
        if (spent + 30 > 100) throw new Error('refused');
      };
      const tries = await Promise.allSettled([a.reserve(places, { tokens: 30, usd: 0 }, limit(a)), b.reserve(places, { tokens: 30, usd: 0 }, limit(b))]);
      expect(tries.map((t) => t.status).sort()).toEqual(['fulfilled', 'rejected']);
      // each instance sees the hold the other took
      await a.ensure(ada, window);
      expect(a.inFlight(ada, window).tokens).toBe(30);
      await b.ensure(ada, window);
      expect(b.inFlight(ada, window).tokens).toBe(30);

      // released: the answer's usage takes its place
      await (tries.find((t) => t.status === 'fulfilled') as PromiseFulfilledResult<() => Promise<void>>).value();
      await a.ensure(ada, window);
      expect(a.inFlight(ada, window).tokens).toBe(0);

      // an instance killed mid-answer: its hold goes as its lease lapses
      await b.reserve(places, { tokens: 30, usd: 0 }, limit(b));
      await a.ensure(ada, window);
      expect(a.inFlight(ada, window).tokens).toBe(30);
      await database.db.updateTable('leases').set({ expires_at: 0 }).where('name', '=', instanceLease('instance-b')).execute();
      await a.ensure(ada, window);
      expect(a.inFlight(ada, window).tokens).toBe(0);
    } finally {
      a.stop();
      b.stop();
      await other.close();
    }
  });
});
