import type { OpenedDatabase } from '../db/open.js';
import type { KnowledgeIndex } from './knowledge-index.js';
import { PostgresKnowledgeStore } from './postgres-store.js';
import { KnowledgeStore } from './store.js';

/** The knowledge index of the database in use: FTS5 + sqlite-vec in the SQLite file, tsvector + pgvector on PostgreSQL. */
export function openKnowledgeIndex(database: OpenedDatabase): KnowledgeIndex {
  return database.kind === 'sqlite' ? new KnowledgeStore(database.sqlite) : new PostgresKnowledgeStore(database.db);
}
