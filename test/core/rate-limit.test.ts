import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openConfiguredDatabase, type OpenedDatabase } from '../../src/core/db/open.js';
import { RateLimitError } from '../../src/core/errors.js';
import { SharedRateLimiter, turnRateLimiter, UserRateLimiter } from '../../src/core/turns/rate-limit.js';
import { createTestDatabase } from '../support/db.js';
import { TEST_POSTGRES_URL } from '../support/postgres.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeEach(async () => {
  database = await createTestDatabase();
});
afterEach(async () => {
  await database.cleanup();
});

async function outcomes(takes: Array<Promise<void>>): Promise<Array<'taken' | number>> {
  return Promise.all(takes.map((t) => t.then(() => 'taken' as const, (err: unknown) => (err instanceof RateLimitError ? err.retryAfterMs : Promise.reject(err)))));
}

describe('the per-user turn limit', () => {
  it('keeps its windows where every instance serving the users sees them', () => {
    const limiter = turnRateLimiter(database.db, 5);
    expect(limiter).toBeInstanceOf(TEST_POSTGRES_URL ? SharedRateLimiter : UserRateLimiter);
  });

  it.skipIf(!TEST_POSTGRES_URL)('holds across instances on PostgreSQL: a user gets the limit, not the limit per instance', async () => {
    // a second instance: its own connection pool on the same database
    const other: OpenedDatabase = openConfiguredDatabase({ url: database.url, file: '' });
    try {
      let now = 1_000_000;
      const a = new SharedRateLimiter(database.db, 3, () => now);
      const b = new SharedRateLimiter(other.db, 3, () => now);
      const first = await outcomes(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).take('discord:ada')));
      expect(first.filter((o) => o === 'taken')).toHaveLength(3);
      expect(first.filter((o) => o !== 'taken').every((ms) => ms === 60_000)).toBe(true);
      // another user has their own window
      await b.take('discord:bo');

      now += 20_000;
      await expect(a.take('discord:ada')).rejects.toMatchObject({ retryAfterMs: 40_000 });
      now += 40_000;
      expect(await outcomes([a.take('discord:ada'), b.take('discord:ada'), a.take('discord:ada'), b.take('discord:ada')])).toEqual(
        expect.arrayContaining(['taken', 'taken', 'taken', 60_000]),
      );
    } finally {
      await other.close();
    }
  });
});
