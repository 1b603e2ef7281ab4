import { sql, type Kysely } from 'kysely';
import { isPostgres, nowDefault } from './support/dialect.js';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Search over conversations. Keyword search is an FTS5 index over the messages' text, kept by
// triggers: a message is indexed once it is final (complete or partial), never while it streams.
// Semantic search keeps vectors in a sqlite-vec table whose dimension is only known once the
// embedding model answers, so that table is made at run time; here is the queue that feeds it.
// Every final message enters the queue (triggers again), and leaves it in the same transaction
// that stores its vector, so a restart resumes where it stopped and nothing is embedded twice.
// A conversation moved to another Experience queues its messages too, to move their vectors.
// On PostgreSQL: the queue and the index state as here, and a GIN index over the final messages'
// English tsvector (porter stemming, as FTS5 here) for keyword search. The triggers that feed the
// queue and the vector table are the search port's to make (with its pgvector table); until then
// search is off on PostgreSQL and nothing would empty the queue.
export async function up(db: Kysely<any>): Promise<void> {
  const now = nowDefault(db);
  const final = `('complete', 'partial')`;

  if (isPostgres(db)) {
    await sql.raw(`CREATE INDEX messages_fts ON messages USING gin (to_tsvector('english', content)) WHERE status IN ${final}`).execute(db);
  } else {
    await sql`CREATE VIRTUAL TABLE message_fts USING fts5(content, content='messages', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')`.execute(db);
    await sql.raw(`INSERT INTO message_fts(rowid, content) SELECT id, content FROM messages WHERE status IN ${final}`).execute(db);
  }

  await db.schema
    .createTable('search_queue')
    .addColumn('message_id', 'integer', (c) => c.primaryKey())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    // a failed batch waits before its next try
    .addColumn('not_before', 'text')
    .addColumn('last_error', 'text')
    // content: embed it; moved: its conversation changed Experience, so its vector moves (no embedding)
    .addColumn('reason', 'text', (c) => c.notNull().defaultTo('content'))
    .addColumn('queued_at', 'text', (c) => c.notNull().defaultTo(now))
    .execute();
  await sql.raw(`INSERT INTO search_queue(message_id) SELECT id FROM messages WHERE status IN ${final} AND content <> ''`).execute(db);

  // the index's model and dimension; one row, or none before the first vector is stored
  await db.schema
    .createTable('search_index')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('dimension', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .execute();
  if (isPostgres(db)) return;

  await sql.raw(`
    CREATE TRIGGER messages_search_insert AFTER INSERT ON messages WHEN new.status IN ${final} BEGIN
      INSERT INTO message_fts(rowid, content) VALUES (new.id, new.content);
      INSERT OR REPLACE INTO search_queue(message_id) SELECT new.id WHERE new.content <> '';
    END`).execute(db);
  await sql.raw(`
    CREATE TRIGGER messages_search_update AFTER UPDATE OF content, status ON messages
    WHEN (old.status IN ${final} OR new.status IN ${final}) AND (old.content IS NOT new.content OR old.status IS NOT new.status) BEGIN
      INSERT INTO message_fts(message_fts, rowid, content) SELECT 'delete', old.id, old.content WHERE old.status IN ${final};
      INSERT INTO message_fts(rowid, content) SELECT new.id, new.content WHERE new.status IN ${final};
      INSERT OR REPLACE INTO search_queue(message_id) SELECT new.id WHERE new.status IN ${final} AND new.content <> '';
      DELETE FROM search_queue WHERE message_id = new.id AND new.status NOT IN ${final};
    END`).execute(db);
  await sql.raw(`
    CREATE TRIGGER conversations_search_move AFTER UPDATE OF experience_id ON conversations
    WHEN old.experience_id IS NOT new.experience_id BEGIN
      INSERT OR IGNORE INTO search_queue(message_id, reason)
        SELECT id, 'moved' FROM messages WHERE conversation_id = new.id AND status IN ${final} AND content <> '';
    END`).execute(db);
  await sql.raw(`
    CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
      INSERT INTO message_fts(message_fts, rowid, content) SELECT 'delete', old.id, old.content WHERE old.status IN ${final};
      DELETE FROM search_queue WHERE message_id = old.id;
    END`).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (isPostgres(db)) {
    await db.schema.dropTable('search_index').execute();
    await db.schema.dropTable('search_queue').execute();
    await db.schema.dropIndex('messages_fts').execute();
    return;
  }
  for (const trigger of ['messages_search_insert', 'messages_search_update', 'messages_search_delete', 'conversations_search_move']) {
    await sql.raw(`DROP TRIGGER ${trigger}`).execute(db);
  }
  await sql`DROP TABLE IF EXISTS search_vectors`.execute(db);
  await db.schema.dropTable('search_index').execute();
  await db.schema.dropTable('search_queue').execute();
  await sql`DROP TABLE message_fts`.execute(db);
}
