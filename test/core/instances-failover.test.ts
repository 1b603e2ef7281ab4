import { afterEach, describe, expect, it } from 'vitest';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/index.js';
import { startFakeOpenAI } from '../fakes/providers.js';
import { openPostgres } from '../../src/core/db/postgres.js';
import type { ThreadloomProcess } from '../support/process.js';
import { startInstance } from '../support/instances.js';
import { TEST_POSTGRES_URL, freshPostgresDatabase } from '../support/postgres.js';
import { until } from '../support/wait.js';

/**
 * Two Threadloom processes on one PostgreSQL with the fake Discord: one holds the gateway, the
 * other stands by; the holder is killed (SIGKILL) and the other takes the gateway over once the
 * lease lapses, answering what was asked meanwhile, once.
 */

/** short for a test, long enough that a start compiling under tsx on a loaded machine keeps renewing */
const LEASE_MS = 8_000;
/** a start through tsx (it compiles the tree) on a loaded machine */
const PATIENT = 90_000;
const ADA = '200000000000000001';

const started: ThreadloomProcess[] = [];
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const p of started.splice(0)) p.child.kill('SIGKILL');
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** Answers the bot wrote in Ada's DM to `question` (the fake provider echoes it). */
function answersTo(discord: FakeDiscord, question: string): number {
  return discord.dmMessages(ADA).filter((m) => m.content.startsWith(`Echo: ${question}`)).length;
}

describe.skipIf(!TEST_POSTGRES_URL)('several instances on PostgreSQL', () => {
  it('hands Discord to the standing-by instance when the holder is killed, and answers every message once', { timeout: 4 * PATIENT }, async () => {
    const server = await freshPostgresDatabase(TEST_POSTGRES_URL!);
    cleanup.push(() => server.drop());
    const [discord, provider] = await Promise.all([startFakeDiscord(), startFakeOpenAI({ models: ['*'] })]);
    cleanup.push(() => discord.close(), () => provider.close());
    const instance = (name: string): ThreadloomProcess => {
      const p = startInstance(name, { databaseUrl: server.url, leaseMs: LEASE_MS, providerUrl: provider.url, cleanup, env: { DISCORD_TOKEN: 'failover-token', DISCORD_API_BASE_URL: discord.apiUrl } });
      started.push(p);
      return p;
    };

    const first = instance('a');
    await first.waitFor(/threadloom ready/);
    await first.waitFor(/lease platform:discord: held by this instance/);
    const second = instance('b');
    await second.waitFor(/threadloom ready/);
    expect(second.stderr()).not.toMatch(/lease platform:discord: held/);

    discord.dmSays({ content: 'one', authorId: ADA });
    await until(() => answersTo(discord, 'one') === 1, PATIENT);

    first.child.kill('SIGKILL');
    const killedAt = Date.now();
    await first.exited;
    // asked while no instance holds the gateway: the next holder finds it when it catches up
    discord.dmSays({ content: 'two', authorId: ADA });
    await second.waitFor(/lease platform:discord: held by this instance/);
    const takeoverMs = Date.now() - killedAt;
    await until(() => answersTo(discord, 'two') === 1, PATIENT);
    console.log(`failover: the standing-by instance held Discord ${takeoverMs} ms after the holder was killed (lease ${LEASE_MS} ms)`);
    expect(takeoverMs).toBeLessThan(30_000);

    discord.dmSays({ content: 'three', authorId: ADA });
    await until(() => answersTo(discord, 'three') === 1, PATIENT);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(['one', 'two', 'three'].map((q) => answersTo(discord, q))).toEqual([1, 1, 1]);

    // the database holds each question and its answer once
    const database = openPostgres(server.url);
    try {
      const rows = await database.db.selectFrom('messages').select(['role', 'content', 'status']).where('role', 'in', ['user', 'assistant']).orderBy('id').execute();
      expect(rows.map((r) => [r.role, r.content.split('\n')[0], r.status])).toEqual([
        ['user', 'one', 'complete'], ['assistant', 'Echo: one', 'complete'],
        ['user', 'two', 'complete'], ['assistant', 'Echo: two', 'complete'],
        ['user', 'three', 'complete'], ['assistant', 'Echo: three', 'complete'],
      ]);
    } finally {
      await database.close();
    }
  });
});
