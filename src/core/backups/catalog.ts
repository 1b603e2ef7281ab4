import { lstat, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { ThreadloomError } from '../errors.js';
import path from 'node:path';
import { z } from 'zod';
import { backupFormat, parseBackupName, sidecarName, type BackupFormat, type BackupName } from './names.js';

/**
 * The backups folder is the catalog: each `threadloom-….sqlite` file plus a `<file>.json`
 * sidecar saying how it was made and whether it verified. Nothing is kept in the database,
 * because restoring an older backup would roll that list back too.
 */

const sidecarSchema = z.object({
  createdAt: z.string(),
  reason: z.string().nullable(),
  sizeBytes: z.number(),
  durationMs: z.number(),
  verified: z.enum(['ok', 'failed']),
  message: z.string().nullable(),
  schemaVersion: z.string().nullable(),
  /** what made it, when not this process's SQLite: e.g. "pg_dump 18.6 of PostgreSQL 18.6" */
  madeBy: z.string().optional(),
});
export type Sidecar = z.infer<typeof sidecarSchema>;

/** `unverified`: no (readable) sidecar, e.g. a file put there by hand or a crash mid-backup. */
export type BackupStatus = 'ok' | 'failed' | 'unverified';

export interface BackupEntry extends BackupName {
  sizeBytes: number;
  status: BackupStatus;
  /** why verification failed, or why there is no verdict */
  message: string | null;
  /** newest migration applied in the backup */
  schemaVersion: string | null;
  durationMs: number | null;
  /** what made it, for a pg_dump backup (the tool's and the server's versions) */
  madeBy?: string;
}

export async function writeSidecar(dir: string, name: string, sidecar: Sidecar): Promise<void> {
  const file = path.join(dir, sidecarName(name));
  await writeFile(`${file}.partial`, `${JSON.stringify(sidecar, null, 2)}\n`);
  await rename(`${file}.partial`, file);
}

async function readSidecar(dir: string, name: string): Promise<Sidecar | 'missing' | 'unreadable'> {
  let text: string;
  try {
    const file = path.join(dir, sidecarName(name));
    if (!(await lstat(file)).isFile()) return 'unreadable';
    text = await readFile(file, 'utf8');
  } catch {
    return 'missing';
  }
  try {
    const parsed = sidecarSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/**
 * A backup is a regular file: a symlink (or a folder) in the backups folder, even with a backup's
 * name, is not one, so it can neither be listed, downloaded nor restored (a link to
 * /etc/shadow or another database would otherwise be served).
 */
export class NotARegularFile extends ThreadloomError {
  constructor(name: string) {
    super('not_found', `${name} in the backups folder is not a regular file (a symlink?); ignored`, { userMessage: `There is no backup called ${name}.` });
  }
}

export async function describeBackup(dir: string, parsed: BackupName): Promise<BackupEntry> {
  const stats = await lstat(path.join(dir, parsed.name));
  if (!stats.isFile()) throw new NotARegularFile(parsed.name);
  const size = stats.size;
  const sidecar = await readSidecar(dir, parsed.name);
  if (typeof sidecar === 'string') {
    const message = sidecar === 'missing' ? 'no verification record' : 'verification record unreadable';
    return { ...parsed, sizeBytes: size, status: 'unverified', message, schemaVersion: null, durationMs: null };
  }
  return {
    ...parsed,
    sizeBytes: size,
    status: sidecar.verified,
    message: sidecar.message,
    schemaVersion: sidecar.schemaVersion,
    durationMs: sidecar.durationMs,
    ...(sidecar.madeBy ? { madeBy: sidecar.madeBy } : {}),
  };
}

/** The names in the backups folder; none when it does not exist yet. */
export async function folderNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * The backups of one format (the database in use), newest first; a folder that does not exist
 * yet holds no backups.
 */
export async function listBackups(dir: string, format: BackupFormat = 'sqlite'): Promise<BackupEntry[]> {
  const files = await folderNames(dir);
  const names = files
    .filter((f) => backupFormat(f) === format)
    .map(parseBackupName)
    .filter((n): n is BackupName => n !== null);
  const entries: BackupEntry[] = [];
  for (const name of names) {
    try {
      entries.push(await describeBackup(dir, name));
    } catch (err) {
      if (err instanceof NotARegularFile) continue;
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // deleted while listing
    }
  }
  return entries.sort(newestFirst);
}

export function newestFirst(a: BackupName, b: BackupName): number {
  return b.createdAt.getTime() - a.createdAt.getTime() || b.sequence - a.sequence || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0);
}
