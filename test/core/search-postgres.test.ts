import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ConversationService } from '../../src/core/conversations/service.js';
import { migrateToLatest } from '../../src/core/db/migrate.js';
import { openPostgres } from '../../src/core/db/postgres.js';
import { ExperienceService } from '../../src/core/experiences/service.js';
import { PostgresKnowledgeStore } from '../../src/core/knowledge/postgres-store.js';
import { PostgresSearchStore } from '../../src/core/search/postgres-store.js';
import { TestContext } from '../support/db.js';
import { TEST_POSTGRES_URL } from '../support/postgres.js';

/**
 * What only PostgreSQL has: several instances sharing one queue, and a server without pgvector.
 * Runs with THREADLOOM_TEST_DATABASE_URL set (test/postgres/postgres.sh), skipped on SQLite.
 */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step();
});

async function world(): Promise<TestContext> {
  const ctx = await TestContext.create();
  cleanups.push(() => ctx.close());
  return ctx;
}

describe.skipIf(!TEST_POSTGRES_URL)(PostgresSearchStore.name, () => {
  it('should give each instance its own queued messages, and those one gave back or held too long to the next', async () => {
    const ctx = await world();
    const conversation = await ctx.newConversation();
    for (let i = 0; i < 6; i++) await ctx.say(conversation.id, `message ${i} about the dns resolver`);
    const first = new PostgresSearchStore(ctx.db);
    const second = new PostgresSearchStore(ctx.db);
    const now = new Date();

    const [a, b] = await Promise.all([first.due(3, now), second.due(3, now)]);
    const ids = (batch: Array<{ messageId: number }>) => batch.map((m) => m.messageId);
    expect(a).toHaveLength(3);
    expect(b).toHaveLength(3);
    expect(new Set([...ids(a), ...ids(b)]).size).toBe(6); // no message taken twice
    expect(await second.due(3, now)).toEqual([]); // all are taken

    await first.release(); // a stop: its messages are due again, for anyone
    expect(ids(await second.due(6, now)).sort()).toEqual(ids(a).sort());
    // an instance killed mid-batch gives nothing back: its claim runs out
    const later = new Date(now.getTime() + 10 * 60_000);
    expect(ids(await first.due(6, later)).sort()).toEqual([...ids(a), ...ids(b)].sort());
  });

  it('should search by keywords only, and say why, where pgvector cannot be installed', async () => {
    // a database without pgvector, whose owner may not install it (it is not a trusted extension):
    // as on a managed server that lacks it; migrating it must still succeed
    const name = `tl_test_nopgvector_${process.pid}_${Date.now().toString(36)}`;
    const onServer = async (statement: string) => {
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL! });
      await client.connect();
      await client.query(statement).finally(() => client.end());
    };
    await onServer(`CREATE DATABASE "${name}" TEMPLATE template0`);
    cleanups.push(() => onServer(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    const url = new URL(TEST_POSTGRES_URL!);
    url.pathname = `/${name}`;
    const plain = openPostgres(url.toString());
    cleanups.push(() => plain.close());
    await migrateToLatest(plain.db);
    const experience = await new ExperienceService(plain.db).create({ name: 'Homelab', slug: 'homelab', systemPrompt: 'Be helpful.' });
    const conversations = new ConversationService(plain.db);
    const conversation = await conversations.create({ platform: 'test', channelId: 'ops', threadId: null }, experience.id, 'test:ada');
    const message = await conversations.append(conversation.id, { role: 'user', content: 'The UPS logs E4021 at every boot', authorId: 'ada' });

    const store = new PostgresSearchStore(plain.db);
    const support = await store.vectorSupport();
    expect(support.ok).toBe(false);
    expect(support.reason).toMatch(/pgvector extension is not available.*keyword search works without it/);
    expect(await new PostgresKnowledgeStore(plain.db).vectorSupport()).toMatchObject({ ok: false });
    expect((await store.keyword('e4021', {}, 5)).map((r) => r.messageId)).toEqual([message.id]);
    await store.reset('ollama/nomic-embed-text');
    await expect(store.ensureVectors(8)).rejects.toThrow(/pgvector/);
    expect(await store.nearest(Float32Array.from([1, 0, 0, 0, 0, 0, 0, 0]), {}, 5, 64)).toEqual([]);
  });
});
