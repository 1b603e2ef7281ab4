import type { OpenedDatabase } from '../db/open.js';
import { PostgresSearchStore } from './postgres-store.js';
import type { SearchIndex } from './search-index.js';
import { SearchStore } from './store.js';

/** The search index of the database in use: FTS5 + sqlite-vec in the SQLite file, tsvector + pgvector on PostgreSQL. */
export function openSearchIndex(database: OpenedDatabase): SearchIndex {
  return database.kind === 'sqlite' ? new SearchStore(database.sqlite) : new PostgresSearchStore(database.db);
}
