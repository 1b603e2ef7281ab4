import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationService } from '../../src/core/conversations/service.js';
import { migrateToLatest } from '../../src/core/db/migrate.js';
import { openDatabase, type OpenedPostgresDatabase, type OpenedSqliteDatabase } from '../../src/core/db/open.js';
import { openPostgres } from '../../src/core/db/postgres.js';
import { ExperienceService } from '../../src/core/experiences/service.js';
import { moveToPostgres } from '../../src/core/move/to-postgres.js';
import { recordUsage } from '../../src/core/usage/ledger.js';
import { usageReport } from '../../src/core/usage/report.js';
import { TEST_POSTGRES_URL, freshPostgresDatabase } from '../support/postgres.js';

// needs a PostgreSQL server: THREADLOOM_TEST_DATABASE_URL (test/postgres/postgres.sh start)
describe.skipIf(!TEST_POSTGRES_URL)('moving a SQLite installation to PostgreSQL', () => {
  let dir: string;
  let source: OpenedSqliteDatabase;
  let target: OpenedPostgresDatabase;
  let drop: () => Promise<void>;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'threadloom-move-'));
    source = openDatabase(path.join(dir, 'threadloom.db'));
    await migrateToLatest(source.db);
    const server = await freshPostgresDatabase(TEST_POSTGRES_URL!);
    drop = server.drop;
    target = openPostgres(server.url);
  });
  afterAll(async () => {
    await target?.close();
    await drop?.();
    await source?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies everything with its ids, checks it, and PostgreSQL carries on from there', async () => {
    const experiences = new ExperienceService(source.db);
    const conversations = new ConversationService(source.db);
    const homelab = await experiences.create({ name: 'Homelab', slug: 'homelab', systemPrompt: 'Be brief.' });
    const place = { platform: 'discord', channelId: 'c1', threadId: 't1' };
    const conversation = await conversations.create(place, homelab.id, 'discord:u1');
    const question = await conversations.append(conversation.id, {
      role: 'user', content: 'what eats my disk?', authorId: 'u1', authorName: 'Ada',
      attachments: [{ name: 'df.png', mimeType: 'image/png', data: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 255]).toString('base64'), url: null, size: 6 }],
    });
    await conversations.append(conversation.id, { role: 'assistant', content: 'Docker images, most likely.', model: 'openai/gpt-4o-mini' }, question.id);
    // an edit makes a branch: the active leaf is on the second one
    const edited = await conversations.editUserMessage(question.id, 'what eats my NAS disk?');
    await conversations.append(conversation.id, { role: 'assistant', content: 'Snapshots.', model: 'openai/gpt-4o-mini' }, edited.id);
    for (let day = 0; day < 40; day++) {
      await recordUsage(source.db, [
        { platform: 'discord', user_id: 'u1', experience_id: homelab.id, conversation_id: conversation.id, message_id: null, provider: 'openai', model: 'openai/gpt-4o-mini', purpose: 'chat',
          tokens_in: 100 + day, tokens_out: 50, estimated: 0, cost_usd: 0.000123 * (day + 1), latency_ms: 300, ttft_ms: 80, status: 'ok', error: null,
          created_at: new Date(Date.UTC(2026, 10, 1 + day, 12)).toISOString() } as never,
      ]);
    }

    // a document of the Experience, cut in three chunks (their index is built anew on PostgreSQL)
    const document = await source.db.insertInto('knowledge_documents').values({
      experience_id: homelab.id, title: 'NAS runbook', file_name: 'nas.md', format: 'markdown', mime_type: 'text/markdown', size_bytes: 120, page_count: null,
      source: 'upload', source_url: null, added_by: 'admin', error: null, content_hash: 'abc', text: null, blocks: null, indexed_at: null,
    } as never).returning('id').executeTakeFirstOrThrow();
    for (const [ordinal, text] of ['Snapshots keep old blocks.', 'Prune snapshots weekly.', 'Docker images pile up.'].entries()) {
      await source.db.insertInto('knowledge_chunks').values({ document_id: document.id, ordinal, text, page_start: null, page_end: null, tokens: 6 } as never).execute();
    }

    const report = await moveToPostgres(source, target, (line) => lines.push(line));
    expect(report.tables.find((t) => t.table === 'knowledge_chunks')?.rows).toBe(3);
    // PostgreSQL queued the moved chunks for embedding itself
    expect(Number((await target.db.selectFrom('knowledge_queue').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(3);
    expect(report.tables.find((t) => t.table === 'messages')?.rows).toBe(4);
    expect(report.tables.find((t) => t.table === 'usage_events')?.rows).toBe(40);
    // the edited question keeps its attachment: one row each
    expect(report.tables.find((t) => t.table === 'attachments')?.rows).toBe(2);
    expect(report.check.rollups).toBe(7);
    // 25 of the 40 usage rows, and every row of the small tables
    expect(report.check.sampled).toBe(37);
    expect(lines).toContain('messages: 4 rows');

    // the same conversation, branch and all, read by the same services on PostgreSQL
    const there = new ConversationService(target.db);
    const moved = await there.get(conversation.id);
    const path_ = (rows: Array<{ role: string; content: string }>) => rows.map((m) => [m.role, m.content]);
    expect(path_(await there.path(moved))).toEqual(path_(await conversations.path(await conversations.get(conversation.id))));
    expect(path_(await there.path(moved)).slice(-2)).toEqual([['user', 'what eats my NAS disk?'], ['assistant', 'Snapshots.']]);
    expect(await there.attachments(question.id)).toEqual(await conversations.attachments(question.id));
    // the usage page adds up the same from PostgreSQL's own rollups
    const range = { from: '2026-11-01', to: '2026-12-11' };
    expect(await usageReport(target.db, range)).toEqual(await usageReport(source.db, range));
    // ids go on from the largest moved one
    const next = await there.append(conversation.id, { role: 'user', content: 'and now?', authorId: 'u1', authorName: 'Ada' });
    expect(next.id).toBeGreaterThan(4);
  });

  it('refuses a PostgreSQL database that already holds data, and changes nothing', async () => {
    await expect(moveToPostgres(source, target)).rejects.toThrow(/already holds data \(table \w+ is not empty\)/);
    expect(Number((await target.db.selectFrom('messages').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(5);
  });
});
