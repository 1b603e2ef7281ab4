import type SQLite from 'better-sqlite3';
import pg from 'pg';
import { describe, it } from 'vitest';
import type { OpenedDatabase } from '../../src/core/db/open.js';

/**
 * PostgreSQL for the suite: when THREADLOOM_TEST_DATABASE_URL is set (test/postgres/postgres.sh
 * prints it), every test database is a fresh database on that server, dropped at cleanup;
 * without it, tests run on SQLite files as always.
 */
export const TEST_POSTGRES_URL = process.env.THREADLOOM_TEST_DATABASE_URL || null;

let counter = 0;

async function asServer<T>(serverUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * Drops a test database. FORCE ends the test's own leftover connections, but not a server process
 * of another role (autovacuum) that may be in it for a moment: then wait and try again. A database
 * that still cannot go is left to the throwaway server's `stop`.
 */
async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await asServer(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
    }
  }
}

/** A new, empty database on the test server (pgvector comes from template1); `drop` removes it. */
export async function freshPostgresDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tl_test_${process.pid}_${Date.now().toString(36)}_${++counter}`;
  await asServer(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => dropDatabase(serverUrl, name),
  };
}

function sqliteHandleOnly(what: string): never {
  throw new Error(`this test reads ${what}, which only SQLite has: read through kysely instead, or, if the test is about the SQLite file itself, make it sqliteOnly('why') (see test/postgres/README.md)`);
}

/**
 * An opened database as the SQLite-era tests see it: `sqlite` and `file` are there on SQLite; on
 * PostgreSQL reading them fails with a message naming the test as SQLite-only.
 */
export type TestDatabase = OpenedDatabase & { sqlite: SQLite.Database; file: string };

export function asTestDatabase(database: OpenedDatabase): TestDatabase {
  if (database.kind === 'sqlite') return database;
  return Object.defineProperties(database, {
    sqlite: { get: () => sqliteHandleOnly('the raw SQLite handle') },
    file: { get: () => sqliteHandleOnly('the SQLite file') },
  }) as TestDatabase;
}

/** the reason of every backup and restore test that skips on PostgreSQL */
export const BACKUPS_COPY_THE_SQLITE_FILE = "backups and restores copy the SQLite file (online backup API, page copies, its schema); on PostgreSQL backups are pg_dump's";

/**
 * The one way a test skips itself on PostgreSQL, for a test about the SQLite file itself (the
 * online backup API, page copies, sqlite_master, pragmas, a damaged header, a full disk under the
 * file), or about the one process that owns that file when a PostgreSQL twin of the test runs
 * beside it: `sqliteOnly('why').describe(…)` or `.it(…)` run on SQLite and are skipped on PostgreSQL,
 * with the reason in their name. `grep -rn sqliteOnly test` lists every such skip; the README
 * says why each is there.
 */
export function sqliteOnly(reason: string) {
  const onPostgres = TEST_POSTGRES_URL !== null;
  const named = (name: string) => (onPostgres ? `${name} — skipped on PostgreSQL: ${reason}` : name);
  const skippedDescribe = describe.skipIf(onPostgres);
  const skippedIt = it.skipIf(onPostgres);
  // the same signatures as vitest's, the name taken as a string
  const withReason = <F>(skipped: F) => ((name: string, ...rest: unknown[]) => (skipped as (...args: unknown[]) => void)(named(name), ...rest)) as F;
  return { describe: withReason(skippedDescribe), it: withReason(skippedIt) };
}
