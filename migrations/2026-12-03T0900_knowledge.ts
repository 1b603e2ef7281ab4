import { sql, type Kysely } from 'kysely';
import { idColumn, isPostgres, nowDefault } from './support/dialect.js';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Knowledge: documents an Experience's answers cite. A document keeps its extracted text (for
// preview and re-chunking) and is cut into chunks. Keyword search is an FTS5 index over the
// chunks' text (external content, kept by triggers); vectors live in a sqlite-vec table made at
// run time once the embedding model says its dimension, fed by a queue that every new chunk
// enters (trigger) and leaves in the same transaction that stores its vector, so a restart
// resumes where it stopped and nothing is embedded twice. Deleting a document deletes its chunks
// (cascade), and their triggers take the FTS rows, queue rows (and, at run time, vectors) along.
// On PostgreSQL: the tables, and a GIN index over the chunks' English tsvector for keyword search;
// the queue's triggers come with the knowledge port (pgvector), as for search (0500).
export async function up(db: Kysely<any>): Promise<void> {
  const now = nowDefault(db);

  await db.schema
    .createTable('knowledge_documents')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('experience_id', 'integer', (c) => c.notNull().references('experiences.id').onDelete('cascade'))
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('file_name', 'text', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('mime_type', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'integer', (c) => c.notNull())
    .addColumn('page_count', 'integer')
    .addColumn('pages_without_text', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('notes', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source IN ('upload', 'chat', 'url', 'text')`))
    .addColumn('source_url', 'text')
    .addColumn('added_by', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('queued').check(sql`status IN ('queued', 'indexing', 'indexed', 'failed')`))
    .addColumn('error', 'text')
    .addColumn('chunk_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('text', 'text')
    // the extracted blocks (text with page and headings) as JSON: re-chunking keeps citations
    .addColumn('blocks', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .addColumn('indexed_at', 'text')
    .execute();
  // the same file twice in one Experience is refused (the service names the first one)
  await db.schema.createIndex('knowledge_documents_hash').unique().on('knowledge_documents').columns(['experience_id', 'content_hash']).execute();

  await db.schema
    .createTable('knowledge_chunks')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('document_id', 'integer', (c) => c.notNull().references('knowledge_documents.id').onDelete('cascade'))
    .addColumn('ordinal', 'integer', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('page_start', 'integer')
    .addColumn('page_end', 'integer')
    .addColumn('headings', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('tokens', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('knowledge_chunks_document').unique().on('knowledge_chunks').columns(['document_id', 'ordinal']).execute();

  if (isPostgres(db)) {
    await sql`CREATE INDEX knowledge_chunks_fts ON knowledge_chunks USING gin (to_tsvector('english', text))`.execute(db);
  } else {
    await sql`CREATE VIRTUAL TABLE knowledge_fts USING fts5(text, content='knowledge_chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')`.execute(db);
  }

  await db.schema
    .createTable('knowledge_queue')
    .addColumn('chunk_id', 'integer', (c) => c.primaryKey())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('not_before', 'text')
    .addColumn('last_error', 'text')
    .addColumn('queued_at', 'text', (c) => c.notNull().defaultTo(now))
    .execute();

  // the vector index's model and dimension; one row, or none before a model was first used
  await db.schema
    .createTable('knowledge_index')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('dimension', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .execute();
  if (isPostgres(db)) return;

  await sql.raw(`
    CREATE TRIGGER knowledge_chunks_insert AFTER INSERT ON knowledge_chunks BEGIN
      INSERT INTO knowledge_fts(rowid, text) VALUES (new.id, new.text);
      INSERT OR REPLACE INTO knowledge_queue(chunk_id) VALUES (new.id);
    END`).execute(db);
  await sql.raw(`
    CREATE TRIGGER knowledge_chunks_update AFTER UPDATE OF text ON knowledge_chunks BEGIN
      INSERT INTO knowledge_fts(knowledge_fts, rowid, text) VALUES ('delete', old.id, old.text);
      INSERT INTO knowledge_fts(rowid, text) VALUES (new.id, new.text);
      INSERT OR REPLACE INTO knowledge_queue(chunk_id) VALUES (new.id);
    END`).execute(db);
  await sql.raw(`
    CREATE TRIGGER knowledge_chunks_delete AFTER DELETE ON knowledge_chunks BEGIN
      INSERT INTO knowledge_fts(knowledge_fts, rowid, text) VALUES ('delete', old.id, old.text);
      DELETE FROM knowledge_queue WHERE chunk_id = old.id;
    END`).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  const sqlite = !isPostgres(db);
  for (const trigger of sqlite ? ['knowledge_chunks_insert', 'knowledge_chunks_update', 'knowledge_chunks_delete', 'knowledge_chunks_vectors_delete'] : []) {
    await sql.raw(`DROP TRIGGER IF EXISTS ${trigger}`).execute(db);
  }
  await sql`DROP TABLE IF EXISTS knowledge_vec`.execute(db);
  await db.schema.dropTable('knowledge_index').execute();
  await db.schema.dropTable('knowledge_queue').execute();
  if (sqlite) await sql`DROP TABLE knowledge_fts`.execute(db);
  await db.schema.dropTable('knowledge_chunks').execute();
  await db.schema.dropTable('knowledge_documents').execute();
}
