import { sql, type Kysely } from 'kysely';
import { isPostgres } from './support/dialect.js';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Search and knowledge on PostgreSQL; nothing at all on SQLite, whose FTS5 tables and triggers
// came with 0500 and 0900. Here:
// - The words of each final message and of each chunk as an English tsvector, in tables of their
//   own (message_words, knowledge_chunk_words) kept by triggers, as FTS5 keeps message_fts: ranking
//   reads the stored tsvector instead of parsing every matching text again (a two-word search over
//   20,000 messages: 49 ms → 4.6 ms). Their GIN indexes replace 0500's and 0900's expression
//   indexes, which no query uses any more; a column on messages would have come back with every
//   `SELECT *` of them.
// - pgvector, when the server has it (the vector tables themselves are made at run time, once the
//   embedding model says its dimension). Without it search and knowledge use keywords only, so a
//   missing extension is a notice here, never a failed migration.
// - The triggers that queue messages and chunks for embedding, as SQLite's do: a final message
//   (or a chunk) is queued when written or changed, leaves the queue when deleted or no longer
//   final, and a conversation moved to another Experience queues its messages to move their vectors.
// - A claim on each queue row (claimed_by, claimed_until): several instances can index one
//   database, each taking rows with FOR UPDATE SKIP LOCKED and holding them until stored, failed,
//   given back at stop, or until the claim runs out (an instance killed mid-batch).
// - Messages and chunks written before this migration (search was off on PostgreSQL) are queued.
const FINAL = `('complete', 'partial')`;

export async function up(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return;

  await sql.raw(`
    DO $$ BEGIN
      CREATE EXTENSION IF NOT EXISTS vector;
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'pgvector is not available (%): search and knowledge use keywords only', SQLERRM;
    END $$`).execute(db);

  for (const queue of ['search_queue', 'knowledge_queue']) {
    await db.schema.alterTable(queue).addColumn('claimed_by', 'text').execute();
    await db.schema.alterTable(queue).addColumn('claimed_until', 'text').execute();
  }

  await sql`DROP INDEX IF EXISTS messages_fts`.execute(db);
  await sql`DROP INDEX IF EXISTS knowledge_chunks_fts`.execute(db);
  // the conversation beside the words: a search's filters join conversations without reading messages.
  // fastupdate off: new rows go into the index itself, not a pending list that every search scans
  // row by row until a vacuum (and that made the planner prefer a scan of the whole table)
  await sql`CREATE TABLE message_words (message_id integer PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE, conversation_id integer NOT NULL, words tsvector NOT NULL)`.execute(db);
  await sql`CREATE INDEX message_words_gin ON message_words USING gin (words) WITH (fastupdate = off)`.execute(db);
  await sql`CREATE TABLE knowledge_chunk_words (chunk_id integer PRIMARY KEY REFERENCES knowledge_chunks(id) ON DELETE CASCADE, words tsvector NOT NULL)`.execute(db);
  await sql`CREATE INDEX knowledge_chunk_words_gin ON knowledge_chunk_words USING gin (words) WITH (fastupdate = off)`.execute(db);

  // INSERT OR REPLACE on SQLite: a queued row starts afresh (no attempts, no claim)
  const requeue = (table: string, key: string, value: string, extra = '') => `
    INSERT INTO ${table}(${key}) VALUES (${value})
    ON CONFLICT (${key}) DO UPDATE SET attempts = 0, not_before = NULL, last_error = NULL, ${extra}
      queued_at = EXCLUDED.queued_at, claimed_by = NULL, claimed_until = NULL;`;

  await sql.raw(`
    CREATE FUNCTION search_queue_message() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status IN ${FINAL} THEN
        INSERT INTO message_words(message_id, conversation_id, words) VALUES (NEW.id, NEW.conversation_id, to_tsvector('english', NEW.content))
        ON CONFLICT (message_id) DO UPDATE SET words = EXCLUDED.words;
      ELSE
        DELETE FROM message_words WHERE message_id = NEW.id;
      END IF;
      IF NEW.status IN ${FINAL} AND NEW.content <> '' THEN
        ${requeue('search_queue', 'message_id', 'NEW.id', `reason = 'content',`)}
      ELSIF NEW.status NOT IN ${FINAL} THEN
        DELETE FROM search_queue WHERE message_id = NEW.id;
      END IF;
      RETURN NULL;
    END $$`).execute(db);
  await sql.raw(`
    CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
    FOR EACH ROW WHEN (NEW.status IN ${FINAL}) EXECUTE FUNCTION search_queue_message()`).execute(db);
  await sql.raw(`
    CREATE TRIGGER messages_search_update AFTER UPDATE OF content, status ON messages
    FOR EACH ROW WHEN ((OLD.status IN ${FINAL} OR NEW.status IN ${FINAL})
      AND (OLD.content IS DISTINCT FROM NEW.content OR OLD.status IS DISTINCT FROM NEW.status))
    EXECUTE FUNCTION search_queue_message()`).execute(db);

  await sql.raw(`
    CREATE FUNCTION search_forget_message() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM search_queue WHERE message_id = OLD.id;
      RETURN NULL;
    END $$`).execute(db);
  await sql.raw(`
    CREATE TRIGGER messages_search_delete AFTER DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION search_forget_message()`).execute(db);

  await sql.raw(`
    CREATE FUNCTION search_move_conversation() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO search_queue(message_id, reason)
        SELECT id, 'moved' FROM messages WHERE conversation_id = NEW.id AND status IN ${FINAL} AND content <> ''
        ON CONFLICT (message_id) DO NOTHING;
      RETURN NULL;
    END $$`).execute(db);
  await sql.raw(`
    CREATE TRIGGER conversations_search_move AFTER UPDATE OF experience_id ON conversations
    FOR EACH ROW WHEN (OLD.experience_id IS DISTINCT FROM NEW.experience_id)
    EXECUTE FUNCTION search_move_conversation()`).execute(db);

  await sql.raw(`
    CREATE FUNCTION knowledge_queue_chunk() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO knowledge_chunk_words(chunk_id, words) VALUES (NEW.id, to_tsvector('english', NEW.text))
      ON CONFLICT (chunk_id) DO UPDATE SET words = EXCLUDED.words;
      ${requeue('knowledge_queue', 'chunk_id', 'NEW.id')}
      RETURN NULL;
    END $$`).execute(db);
  await sql.raw(`
    CREATE TRIGGER knowledge_chunks_insert AFTER INSERT ON knowledge_chunks
    FOR EACH ROW EXECUTE FUNCTION knowledge_queue_chunk()`).execute(db);
  await sql.raw(`
    CREATE TRIGGER knowledge_chunks_update AFTER UPDATE OF text ON knowledge_chunks
    FOR EACH ROW EXECUTE FUNCTION knowledge_queue_chunk()`).execute(db);

  await sql.raw(`
    CREATE FUNCTION knowledge_forget_chunk() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM knowledge_queue WHERE chunk_id = OLD.id;
      RETURN NULL;
    END $$`).execute(db);
  await sql.raw(`
    CREATE TRIGGER knowledge_chunks_delete AFTER DELETE ON knowledge_chunks
    FOR EACH ROW EXECUTE FUNCTION knowledge_forget_chunk()`).execute(db);

  await sql.raw(`INSERT INTO message_words(message_id, conversation_id, words) SELECT id, conversation_id, to_tsvector('english', content) FROM messages WHERE status IN ${FINAL}`).execute(db);
  await sql`INSERT INTO knowledge_chunk_words(chunk_id, words) SELECT id, to_tsvector('english', text) FROM knowledge_chunks`.execute(db);
  await sql.raw(`
    INSERT INTO search_queue(message_id) SELECT id FROM messages WHERE status IN ${FINAL} AND content <> ''
    ON CONFLICT (message_id) DO NOTHING`).execute(db);
  await sql`INSERT INTO knowledge_queue(chunk_id) SELECT id FROM knowledge_chunks ON CONFLICT (chunk_id) DO NOTHING`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return;
  // the vector tables made at run time reference the rows these triggers watch
  await sql`DROP TABLE IF EXISTS search_vectors`.execute(db);
  await sql`DROP TABLE IF EXISTS knowledge_vec`.execute(db);
  for (const [trigger, table] of [
    ['messages_search_insert', 'messages'], ['messages_search_update', 'messages'], ['messages_search_delete', 'messages'],
    ['conversations_search_move', 'conversations'], ['knowledge_chunks_insert', 'knowledge_chunks'],
    ['knowledge_chunks_update', 'knowledge_chunks'], ['knowledge_chunks_delete', 'knowledge_chunks'],
  ]) {
    await sql.raw(`DROP TRIGGER ${trigger} ON ${table}`).execute(db);
  }
  for (const fn of ['search_queue_message', 'search_forget_message', 'search_move_conversation', 'knowledge_queue_chunk', 'knowledge_forget_chunk']) {
    await sql.raw(`DROP FUNCTION ${fn}()`).execute(db);
  }
  for (const queue of ['search_queue', 'knowledge_queue']) {
    await db.schema.alterTable(queue).dropColumn('claimed_by').dropColumn('claimed_until').execute();
  }
  await sql`DROP TABLE message_words`.execute(db);
  await sql`DROP TABLE knowledge_chunk_words`.execute(db);
  await sql.raw(`CREATE INDEX messages_fts ON messages USING gin (to_tsvector('english', content)) WHERE status IN ${FINAL}`).execute(db);
  await sql`CREATE INDEX knowledge_chunks_fts ON knowledge_chunks USING gin (to_tsvector('english', text))`.execute(db);
}
