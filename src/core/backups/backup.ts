import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { requireSqlite, type OpenedDatabase } from '../db/open.js';
import { errorMessage, ThreadloomError } from '../errors.js';
import { describeBackup, writeSidecar, type BackupEntry, type Sidecar } from './catalog.js';
import { inspectDatabaseFile, makeSelfContained } from './inspect.js';
import { claimPartial } from './partials.js';
import { backupName, parseBackupName, sidecarName, type BackupFormat, type BackupName, type BackupReason } from './names.js';

export interface PageProgress {
  pagesDone: number;
  pagesTotal: number;
}
export type OnPageProgress = (progress: PageProgress) => void;

/** Pages copied per step (4 MB at the default page size); between steps the bots keep running. */
export const PAGES_PER_STEP = 1000;

export interface BackupOptions {
  reason: BackupReason;
  now: Date;
  onProgress?: OnPageProgress;
  pagesPerStep?: number;
}

/** The first name for this second and reason that neither a backup nor a sidecar has taken. */
export function freeName(dir: string, now: Date, reason: BackupReason, format: BackupFormat = 'sqlite'): string {
  for (let sequence = 1; ; sequence++) {
    const name = backupName(now, reason, sequence, format);
    if (!existsSync(path.join(dir, name)) && !existsSync(path.join(dir, sidecarName(name)))) return name;
  }
}

export async function removeWithJournals(file: string): Promise<void> {
  await Promise.all(['', '-wal', '-shm', '-journal'].map((suffix) => rm(`${file}${suffix}`, { force: true })));
}

/**
 * Copies the live database with SQLite's online backup API (a plain file copy of a WAL database
 * can be torn), into a hidden partial file renamed into place only when complete. Then verifies
 * the copy and records the verdict in the sidecar. A copy that fails verification stays, marked
 * failed; only a copy that could not be made at all throws.
 */
export async function createBackup(opened: OpenedDatabase, dir: string, options: BackupOptions): Promise<BackupEntry> {
  const database = requireSqlite(opened, 'backups');
  if (database.file === ':memory:') throw new ThreadloomError('unsupported', 'an in-memory database cannot be backed up');
  await mkdir(dir, { recursive: true });
  const name = freeName(dir, options.now, options.reason);
  const file = path.join(dir, name);
  const partial = path.join(dir, `.${name}.partial`);
  const started = performance.now();
  const pagesPerStep = options.pagesPerStep ?? PAGES_PER_STEP;
  const release = claimPartial(partial);
  try {
    const { totalPages } = await database.sqlite.backup(partial, {
      progress: ({ totalPages: total, remainingPages }) => {
        options.onProgress?.({ pagesDone: total - remainingPages, pagesTotal: total });
        return pagesPerStep;
      },
    });
    options.onProgress?.({ pagesDone: totalPages, pagesTotal: totalPages });
    makeSelfContained(partial);
    await rename(partial, file);
  } catch (err) {
    await removeWithJournals(partial);
    throw new ThreadloomError('database', `backup failed, nothing was written: ${errorMessage(err)}`, {
      cause: err,
      userMessage: `The backup failed: ${errorMessage(err)}`,
    });
  } finally {
    release();
  }
  const durationMs = Math.round(performance.now() - started);
  return verifyAndRecord(dir, parseBackupName(name)!, { createdAt: options.now.toISOString(), reason: options.reason, durationMs });
}

/** Checks an existing backup again (e.g. after a disk scare) and rewrites its sidecar. */
export async function reverifyBackup(dir: string, parsed: BackupName): Promise<BackupEntry> {
  const before = await describeBackup(dir, parsed);
  return verifyAndRecord(dir, parsed, { createdAt: parsed.createdAt.toISOString(), reason: parsed.reason, durationMs: before.durationMs ?? 0 });
}

async function verifyAndRecord(dir: string, parsed: BackupName, made: Pick<Sidecar, 'createdAt' | 'reason' | 'durationMs'>): Promise<BackupEntry> {
  const file = path.join(dir, parsed.name);
  const inspection = inspectDatabaseFile(file);
  const { size } = await stat(file);
  await writeSidecar(dir, parsed.name, {
    ...made,
    sizeBytes: size,
    verified: inspection.ok ? 'ok' : 'failed',
    message: inspection.ok ? null : inspection.message,
    schemaVersion: inspection.ok ? inspection.schemaVersion : null,
  });
  return describeBackup(dir, parsed);
}
