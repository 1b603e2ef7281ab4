import SQLite from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { errorMessage } from '../errors.js';

/** kysely's bookkeeping table: its presence is what makes a file a migrated database. */
export const MIGRATION_TABLE = 'kysely_migration';

export type Inspection =
  | { ok: true; tables: string[]; migrations: string[]; schemaVersion: string | null; pageSize: number }
  | { ok: false; message: string };

const INTEGRITY_LINES_SHOWN = 3;

/** An SQLite error in words a person restoring a backup understands. */
export function describeSqliteError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'SQLITE_NOTADB') return 'not an SQLite database';
  if (code === 'SQLITE_CORRUPT') return `integrity check failed: ${errorMessage(err)}`;
  return errorMessage(err);
}

/**
 * Opens a database file read-only and checks it the way a restore will need it: every page
 * readable (`PRAGMA integrity_check`), and kysely's migration table present. Never throws.
 */
export function inspectDatabaseFile(file: string): Inspection {
  let sqlite: SQLite.Database;
  try {
    sqlite = new SQLite(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    return { ok: false, message: `cannot open ${file}: ${errorMessage(err)}` };
  }
  try {
    // a future vec0 table would otherwise make the check stumble over an unknown module
    sqliteVec.load(sqlite);
    const problems = (sqlite.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check);
    if (problems.length !== 1 || problems[0] !== 'ok') {
      const shown = problems.slice(0, INTEGRITY_LINES_SHOWN).join('; ');
      const more = problems.length > INTEGRITY_LINES_SHOWN ? ` (and ${problems.length - INTEGRITY_LINES_SHOWN} more)` : '';
      return { ok: false, message: `integrity check failed: ${shown}${more}` };
    }
    const tables = (sqlite.prepare("select name from sqlite_master where type = 'table' order by name").all() as Array<{ name: string }>).map((r) => r.name);
    if (!tables.includes(MIGRATION_TABLE)) return { ok: false, message: 'not a Threadloom database: it has no migrations table' };
    const migrations = (sqlite.prepare(`select name from ${MIGRATION_TABLE} order by name`).all() as Array<{ name: string }>).map((r) => r.name);
    const pageSize = sqlite.pragma('page_size', { simple: true }) as number;
    return { ok: true, tables, migrations, schemaVersion: migrations.at(-1) ?? null, pageSize };
  } catch (err) {
    return { ok: false, message: describeSqliteError(err) };
  } finally {
    sqlite.close();
  }
}

/**
 * A database copied with the backup API keeps the source's WAL flag in its header; switching the
 * copy to a rollback journal makes it one self-contained file that opens read-only without
 * leaving `-wal`/`-shm` files beside it. Optionally changes the page size (needs a VACUUM).
 */
export function makeSelfContained(file: string, pageSize?: number): void {
  const sqlite = new SQLite(file, { fileMustExist: true });
  try {
    sqlite.pragma('journal_mode = DELETE');
    if (pageSize !== undefined && sqlite.pragma('page_size', { simple: true }) !== pageSize) {
      sqlite.pragma(`page_size = ${Math.trunc(pageSize)}`);
      sqlite.exec('VACUUM');
    }
  } finally {
    sqlite.close();
  }
}
