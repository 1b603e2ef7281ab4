import type SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { Database } from './types.js';

/** What opening the database gives, on either dialect (the openers are sqlite.ts and postgres.ts). */
export type Db = Kysely<Database>;

interface OpenedCommon {
  db: Db;
  close(): Promise<void>;
}

/** The SQLite file: `sqlite` is the raw handle that backups and the search indexes use. */
export interface OpenedSqliteDatabase extends OpenedCommon {
  kind: 'sqlite';
  sqlite: SQLite.Database;
  file: string;
}

/** A PostgreSQL server: there is no file and no raw handle, only kysely over a `pg` pool. */
export interface OpenedPostgresDatabase extends OpenedCommon {
  kind: 'postgres';
  /** the URL without its password, for messages */
  where: string;
}

export type OpenedDatabase = OpenedSqliteDatabase | OpenedPostgresDatabase;
