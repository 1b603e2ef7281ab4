import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { sql } from 'kysely';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConversationService } from '../../src/core/conversations/service.js';
import { MIGRATIONS_DIR, migrateToLatest } from '../../src/core/db/migrate.js';
import { openConfiguredDatabase, type OpenedDatabase } from '../../src/core/db/open.js';
import { ExperienceService, type Experience } from '../../src/core/experiences/service.js';
import type { ExperienceInput } from '../../src/core/experiences/schema.js';
import type { ConversationRow, MessageRow } from '../../src/core/conversations/table.js';
import { TEST_POSTGRES_URL, asTestDatabase, freshPostgresDatabase, type TestDatabase } from './postgres.js';

/**
 * A real database, migrated to the latest schema: a SQLite file in a fresh temp folder, or, when
 * THREADLOOM_TEST_DATABASE_URL is set, a fresh database on that PostgreSQL server. Both are
 * removed at cleanup.
 */
export async function createTestDatabase(): Promise<TestDatabase & { dir: string; url: string | null; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-test-'));
  const server = TEST_POSTGRES_URL ? await freshPostgresDatabase(TEST_POSTGRES_URL) : null;
  const database = asTestDatabase(openConfiguredDatabase({ url: server?.url ?? null, file: path.join(dir, 'threadloom.db') }));
  await migrateToLatest(database.db);
  return Object.assign(database, {
    dir,
    /** the PostgreSQL database's URL, for a test that opens a second pool on it (a second instance) */
    url: server?.url ?? null,
    cleanup: async () => {
      await database.close();
      await server?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** A migrations folder holding the named migrations (default: all) and the helpers they share (support/). */
export function copyMigrations(folder: string, names?: string[]): void {
  mkdirSync(folder, { recursive: true });
  for (const file of names ?? readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.ts'))) copyFileSync(path.join(MIGRATIONS_DIR, file), path.join(folder, file));
  cpSync(path.join(MIGRATIONS_DIR, 'support'), path.join(folder, 'support'), { recursive: true });
}

/**
 * Whether `text` is stored anywhere in the database, in plain: the SQLite file's bytes (the WAL
 * checkpointed into it first), or the text of any row of any table on PostgreSQL.
 */
export async function storedInDatabase(database: OpenedDatabase, text: string): Promise<boolean> {
  if (database.kind === 'sqlite') {
    database.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    const files = [database.file, `${database.file}-wal`].filter(existsSync);
    return files.some((file) => readFileSync(file).includes(Buffer.from(text)));
  }
  const { rows: tables } = await sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`.execute(database.db);
  for (const { name } of tables) {
    const { rows } = await sql`SELECT 1 FROM ${sql.table(name)} AS t WHERE strpos(t::text, ${text}) > 0 LIMIT 1`.execute(database.db);
    if (rows.length) return true;
  }
  return false;
}

let counter = 0;

/** Builds data through the real services, the way the app does. */
export class TestContext {
  readonly experiences: ExperienceService;
  readonly conversations: ConversationService;

  constructor(readonly database: Awaited<ReturnType<typeof createTestDatabase>>) {
    this.experiences = new ExperienceService(database.db);
    this.conversations = new ConversationService(database.db);
  }

  get db() {
    return this.database.db;
  }

  static async create(): Promise<TestContext> {
    return new TestContext(await createTestDatabase());
  }

  async newExperience(overrides: Partial<ExperienceInput> = {}): Promise<Experience> {
    counter++;
    return this.experiences.create({ name: `Experience ${counter}`, slug: `exp-${counter}`, systemPrompt: 'Be helpful.', ...overrides });
  }

  async newConversation(experience?: Experience): Promise<ConversationRow> {
    const e = experience ?? (await this.newExperience());
    return this.conversations.create({ platform: 'test', channelId: `c${++counter}`, threadId: null }, e.id, 'test:u1');
  }

  async say(conversationId: number, text: string, parentId?: number | null): Promise<MessageRow> {
    return this.conversations.append(conversationId, { role: 'user', content: text, authorId: 'u1', authorName: 'Ada' }, parentId);
  }

  async answer(conversationId: number, text: string, parentId?: number | null): Promise<MessageRow> {
    return this.conversations.append(conversationId, { role: 'assistant', content: text, model: 'fake/model' }, parentId);
  }

  async close(): Promise<void> {
    await this.database.cleanup();
  }
}
