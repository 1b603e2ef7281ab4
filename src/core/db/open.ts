import path from 'node:path';
import { ThreadloomError } from '../errors.js';
import { openPostgres } from './postgres.js';
import { openDatabase } from './sqlite.js';
import type { OpenedDatabase, OpenedSqliteDatabase } from './opened.js';

export { openDatabase } from './sqlite.js';

export type { Db, OpenedDatabase, OpenedPostgresDatabase, OpenedSqliteDatabase } from './opened.js';

/** PostgreSQL when a URL is configured (`database.url`, THREADLOOM_DATABASE_URL), else the SQLite file. */
export function openConfiguredDatabase(where: { url: string | null; file: string }): OpenedDatabase {
  return where.url ? openPostgres(where.url) : openDatabase(where.file);
}

/** The database a loaded config names: its PostgreSQL URL, else threadloom.db in its data dir. */
export function openDatabaseFor(config: { database: { url: string | null }; dataDir: string }): OpenedDatabase {
  return openConfiguredDatabase({ url: config.database.url, file: databaseFile(config.dataDir) });
}

export function databaseFile(dataDir: string): string {
  return path.join(dataDir, 'threadloom.db');
}

/**
 * The SQLite side of an opened database, for what only SQLite has yet (file backups, the FTS5 and
 * sqlite-vec indexes): on PostgreSQL, an error that says what is not there instead of a crash.
 */
export function requireSqlite(database: OpenedDatabase, feature: string): OpenedSqliteDatabase {
  if (database.kind === 'sqlite') return database;
  throw new ThreadloomError('unsupported', `${feature} on PostgreSQL: not yet (${database.where})`, {
    userMessage: `${feature} is not available yet when Threadloom runs on PostgreSQL.`,
  });
}
