import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunningTotals, type BudgetScope } from '../../src/core/budgets/totals.js';
import { windowOf } from '../../src/core/budgets/periods.js';
import { openConfiguredDatabase } from '../../src/core/db/open.js';
import { recordUsage } from '../../src/core/usage/ledger.js';
import type { NewUsageEventRow } from '../../src/core/usage/table.js';
import { createTestDatabase } from '../support/db.js';
import { TEST_POSTGRES_URL } from '../support/postgres.js';

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
});
