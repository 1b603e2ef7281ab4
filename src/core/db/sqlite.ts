import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteDialect, type DialectAdapter } from 'kysely';
import * as sqliteVec from 'sqlite-vec';
import { ThreadloomError } from '../errors.js';
import { databaseFileProblem } from './problems.js';
import type { OpenedSqliteDatabase } from './opened.js';
import type { Database } from './types.js';

/**
 * SQLite can roll back DDL, but kysely's adapter says it cannot; saying so makes the migrator
 * run all pending migrations in one transaction, so a failed migration leaves the file as it was.
 */
class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class ThreadloomSqliteDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionalSqliteAdapter();
  }
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * What kysely's SQLite driver sees: the database, but with prepared statements reused. kysely
 * prepares every query afresh, and preparing was a third of the database time of a chat turn.
 */
function withStatementCache(sqlite: SQLite.Database) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string): SQLite.Statement {
      let statement = cache.get(sql);
      if (statement) {
        cache.delete(sql); // re-insert: the Map's order is the LRU order
      } else {
        statement = sqlite.prepare(sql);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}

/** Opens (creating if needed) the SQLite file: WAL, busy timeout, foreign keys, sqlite-vec loaded. */
export function openDatabase(file: string): OpenedSqliteDatabase {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let sqlite: SQLite.Database | undefined;
  try {
    sqlite = new SQLite(file);
    // the first read of the file: a damaged or foreign file fails here
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('synchronous = NORMAL');
    // reads through a memory map instead of a read() per page: the search index's scans over its
    // bit vectors took a quarter less time (bench:search); SQLite caps it at its compiled limit (2 GiB)
    sqlite.pragma('mmap_size = 2147483648');
    sqliteVec.load(sqlite);
  } catch (err) {
    sqlite?.close();
    throw databaseFileProblem(err, file) ?? new ThreadloomError('database', `cannot open database ${path.resolve(file)}: ${(err as Error).message}`, { cause: err });
  }
  const db = new Kysely<Database>({ dialect: new ThreadloomSqliteDialect({ database: withStatementCache(sqlite) }) });
  return {
    kind: 'sqlite',
    db,
    sqlite,
    file,
    close: async () => {
      await db.destroy();
    },
  };
}
