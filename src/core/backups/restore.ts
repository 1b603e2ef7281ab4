import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { MIGRATIONS_DIR, migrateToLatest } from '../db/migrate.js';
import { openDatabase, requireSqlite, type OpenedDatabase, type OpenedSqliteDatabase } from '../db/open.js';
import { errorMessage, ThreadloomError } from '../errors.js';
import { createBackup, removeWithJournals, type PageProgress } from './backup.js';
import type { BackupEntry } from './catalog.js';
import { describeSqliteError, inspectDatabaseFile, makeSelfContained } from './inspect.js';
import { claimPartial } from './partials.js';
import { describeSchema, referenceSchema, schemaDifferences, unopenableVirtualTables } from './schema.js';

export type RestorePhase = 'checking' | 'pre-restore' | 'restoring' | 'migrating';
export interface RestoreProgress extends PageProgress {
  phase: RestorePhase;
}

export interface RestoreOptions {
  now: Date;
  onProgress?: (progress: RestoreProgress) => void;
  migrationsDir?: string;
  /** how long to wait for a writer to release the live database (default 10 s) */
  lockWaitMs?: number;
  /** what messages call the file, e.g. an upload's own name rather than where it was staged */
  label?: string;
}

export interface RestoreReport {
  /** the newest migration the restored file had before migrating */
  schemaVersion: string | null;
  /** migrations applied (to the staged copy, before the swap) because the backup predates them */
  appliedMigrations: string[];
  /**
   * The backup of the database as it was just before; restoring it undoes this restore. Null when
   * the live database was empty (a fresh install being recovered). Its status may be `failed`
   * when the live database was the broken thing being replaced.
   */
  preRestoreBackup: BackupEntry | null;
}

type Report = (phase: RestorePhase, pagesDone?: number, pagesTotal?: number) => void;

/** More than any database has: the whole file moves in one backup step, so in one write lock. */
const ALL_PAGES = 0x7fffffff;
/** How long a restore waits for a write transaction on the live database to end. */
const LOCK_WAIT_MS = 10_000;
const LOCK_RETRY_MS = 50;

/** `label`: the file's path, or the name the admin knows it by (an upload's own name). */
function refuse(label: string, reason: string): ThreadloomError {
  return new ThreadloomError('invalid', `cannot restore from ${label}: ${reason}; the live database was not changed`, {
    userMessage: `Cannot restore from ${path.basename(label)}: ${reason}. Nothing was changed.`,
  });
}

/** The migration names this version of Threadloom ships, as kysely names them. */
function knownMigrations(folder: string): Set<string> {
  return new Set(
    readdirSync(folder)
      .filter((file) => /\.(ts|mts|js|mjs)$/.test(file) && !file.endsWith('.d.ts'))
      .map((file) => file.replace(/\.[^.]+$/, '')),
  );
}

/**
 * Copies the candidate into a private staging file (with the backup API, so an uploaded WAL
 * file with its `-wal` is read whole), as one self-contained file with the live page size:
 * SQLite cannot back up into a WAL database whose page size differs.
 */
async function stage(source: string, label: string, staging: string, pageSize: number): Promise<void> {
  if (!existsSync(source)) throw refuse(label, 'no such file');
  let candidate: SQLite.Database;
  try {
    candidate = new SQLite(source, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw refuse(label, errorMessage(err));
  }
  try {
    await candidate.backup(staging);
    makeSelfContained(staging, pageSize);
  } catch (err) {
    throw refuse(label, describeSqliteError(err));
  } finally {
    candidate.close();
  }
}

/** Integrity, a Threadloom database, and no migration this version does not know. */
function check(label: string, staged: string, known: Set<string>): string | null {
  const inspection = inspectDatabaseFile(staged);
  if (!inspection.ok) throw refuse(label, inspection.message);
  if (!inspection.tables.includes('messages')) throw refuse(label, 'not a Threadloom database: it has no messages table');
  const unknown = inspection.migrations.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw refuse(label, `this backup was made by a newer Threadloom (it has migration ${unknown.at(-1)}, which this version does not know); upgrade Threadloom first`);
  }
  return inspection.schemaVersion;
}

/**
 * Brings the staged copy up to this version's schema, then compares it with what the migrations
 * create: a file that only looks migrated (the migration names, a one-column `messages`), or
 * carries a trigger or view of its own, is refused here, before the swap, not found out after it.
 */
async function migrateStaged(label: string, staging: string, migrationsDir: string): Promise<string[]> {
  const staged = openDatabase(staging);
  let applied: string[];
  try {
    const unopenable = unopenableVirtualTables(staged.sqlite);
    if (unopenable.length) throw refuse(label, `it has virtual tables this Threadloom cannot open: ${unopenable.join(', ')}`);
    try {
      applied = (await migrateToLatest(staged.db, migrationsDir)).applied;
    } catch (err) {
      throw refuse(label, `bringing its schema up to date failed: ${errorMessage(err)}`);
    }
    const differences = schemaDifferences(describeSchema(staged.sqlite), await referenceSchema(migrationsDir));
    if (differences.length) throw refuse(label, `its schema is not what this version of Threadloom expects: ${differences.join('; ')}`);
  } finally {
    await staged.close();
  }
  makeSelfContained(staging);
  return applied;
}

/**
 * Writes the staged candidate over the live file. When a writer holds the live file at the first
 * step, better-sqlite3 reports a finished copy of 0 pages although nothing was copied; a staged
 * candidate always has pages, so 0 means "locked": wait and try again, up to `lockWaitMs`.
 */
async function copyInto(staged: string, liveFile: string, report: Report, lockWaitMs: number): Promise<void> {
  const deadline = Date.now() + lockWaitMs;
  const candidate = new SQLite(staged, { readonly: true, fileMustExist: true });
  try {
    for (;;) {
      const { totalPages } = await candidate.backup(liveFile, {
        progress: ({ totalPages: total, remainingPages }) => {
          report('restoring', total - remainingPages, total);
          return ALL_PAGES;
        },
      });
      if (totalPages > 0) {
        report('restoring', totalPages, totalPages);
        return;
      }
      if (Date.now() >= deadline) {
        throw new ThreadloomError('database', `the live database stayed locked by a writer for ${lockWaitMs} ms; nothing was restored, try again`, {
          userMessage: 'The database was busy the whole time; nothing was restored. Try again.',
        });
      }
      await sleep(LOCK_RETRY_MS);
    }
  } finally {
    candidate.close();
  }
}

/** How to undo a swap that happened, in words. */
export function undoHint(preRestoreBackup: BackupEntry | null): string {
  return preRestoreBackup ? `Restore ${preRestoreBackup.name} to go back` : 'The database was empty before, so there is nothing to go back to';
}

function isEmpty(database: OpenedSqliteDatabase): boolean {
  return (database.sqlite.prepare('select count(*) as n from sqlite_master').get() as { n: number }).n === 0;
}

/**
 * The undo for a restore. When the live database is itself what is broken, its copy fails
 * verification; the restore still goes ahead (refusing would trap the user with the broken one)
 * and the report says so.
 */
async function takePreRestoreBackup(database: OpenedDatabase, dir: string, now: Date, report: Report): Promise<BackupEntry> {
  report('pre-restore');
  return createBackup(database, dir, { reason: 'pre-restore', now, onProgress: (p) => report('pre-restore', p.pagesDone, p.pagesTotal) });
}

/**
 * Replaces the live database's content with the candidate's, in place: the backup API writes
 * every page into the live file in one write transaction, so every open connection (the bots')
 * sees either the old database or the restored one, and keeps working. Before that: the
 * candidate is checked and a `pre-restore` backup is taken; a failure up to there changes nothing.
 */
export async function restoreDatabase(opened: OpenedDatabase, backupsDir: string, source: string, options: RestoreOptions): Promise<RestoreReport> {
  const database = requireSqlite(opened, 'restoring a backup');
  if (database.file === ':memory:') throw new ThreadloomError('unsupported', 'an in-memory database cannot be restored into');
  const report: Report = (phase, pagesDone = 0, pagesTotal = 0) => options.onProgress?.({ phase, pagesDone, pagesTotal });
  const migrationsDir = options.migrationsDir ?? MIGRATIONS_DIR;
  const label = options.label ?? source;
  const staging = path.join(backupsDir, `.restore-${options.now.getTime()}.partial`);
  await mkdir(backupsDir, { recursive: true });
  const release = claimPartial(staging);
  try {
    report('checking');
    await stage(source, label, staging, database.sqlite.pragma('page_size', { simple: true }) as number);
    const schemaVersion = check(label, staging, knownMigrations(migrationsDir));
    const migratedBeforeSwap = await migrateStaged(label, staging, migrationsDir);

    const preRestoreBackup = isEmpty(database) ? null : await takePreRestoreBackup(database, backupsDir, options.now, report);

    report('restoring');
    await copyInto(staging, database.file, report, options.lockWaitMs ?? LOCK_WAIT_MS);

    report('migrating');
    // normally nothing left to apply: the staged copy was migrated; this catches a migration added meanwhile
    const { applied } = await migrateToLatest(database.db, migrationsDir).catch((err: unknown) => {
      throw new ThreadloomError('migration', `restored ${label}, but migrating it failed: ${errorMessage(err)}; ${undoHint(preRestoreBackup)}`, {
        cause: err,
        userMessage: `The database was replaced with ${path.basename(label)}, but bringing its schema up to date failed. ${undoHint(preRestoreBackup)}.`,
      });
    });
    return { schemaVersion, appliedMigrations: [...migratedBeforeSwap, ...applied], preRestoreBackup };
  } finally {
    release();
    await removeWithJournals(staging);
  }
}
