import { createRequire } from 'node:module';
import { Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import { ThreadloomError } from '../errors.js';
import type { OpenedPostgresDatabase } from './opened.js';
import type { Database } from './types.js';

const INT8_OID = 20;
const NUMERIC_OID = 1700;
const POOL_SIZE = 10;

/**
 * node-postgres, loaded when a PostgreSQL URL is first opened: importing it takes 150–250 ms here,
 * which a start on SQLite need not pay.
 */
const loadPg = (): typeof pg => createRequire(import.meta.url)('pg') as typeof pg;

/**
 * Rows look as they do on SQLite: `count(*)`, `sum(integer)` and bigint ids come back as numbers,
 * not the strings `pg` gives by default (beyond 2^53 they would lose digits; no count gets there).
 * Per pool, so nothing global in `pg` changes.
 */
function numbersAsNumbers(driver: typeof pg): pg.CustomTypesConfig {
  return {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
      return driver.types.getTypeParser(oid, format as 'text');
    },
  } as pg.CustomTypesConfig;
}

/** The URL with its password replaced, fit for a log line or an error message. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** kysely over a `pg` pool. Nothing connects until the first query (the migrations, at start). */
export function openPostgres(url: string): OpenedPostgresDatabase {
  let pool: pg.Pool;
  try {
    const driver = loadPg();
    pool = new driver.Pool({ connectionString: url, max: POOL_SIZE, types: numbersAsNumbers(driver) });
  } catch (err) {
    throw new ThreadloomError('database', `cannot use the PostgreSQL URL ${redactedUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
  // an idle connection dropped by the server must not end the process: the next query reports it
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    kind: 'postgres',
    db,
    where: redactedUrl(url),
    close: async () => {
      await db.destroy();
    },
  };
}
