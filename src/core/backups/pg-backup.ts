import { open, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Db } from '../db/open.js';
import { errorMessage, ThreadloomError } from '../errors.js';
import { freeName } from './backup.js';
import { describeBackup, writeSidecar, type BackupEntry, type Sidecar } from './catalog.js';
import { claimPartial } from './partials.js';
import { parseBackupName, type BackupName, type BackupReason } from './names.js';
import { checkPgDump, redactUrls, runPgDump, splitPassword } from './pg-dump.js';

/** Every custom-format archive starts with these bytes (pg_backup_archiver.c). */
const ARCHIVE_MAGIC = 'PGDMP';

export interface PgBackupOptions {
  reason: BackupReason;
  now: Date;
  /** the database's URL, password included (it goes to pg_dump in PGPASSWORD) */
  url: string;
  /** backups.pgDump (env THREADLOOM_PG_DUMP); unset: `pg_dump` on PATH */
  pgDump: string | undefined;
}

/** The newest migration applied, so the list says which schema a dump holds. */
async function schemaVersion(db: Db): Promise<string | null> {
  try {
    const { rows } = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name DESC LIMIT 1`.execute(db);
    return rows[0]?.name ?? null;
  } catch {
    return null;
  }
}

/** A complete custom-format archive is not empty and starts with pg_dump's magic bytes. */
async function checkArchive(file: string): Promise<string | null> {
  const handle = await open(file, 'r');
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(ARCHIVE_MAGIC.length), 0, ARCHIVE_MAGIC.length, 0);
    if (bytesRead < ARCHIVE_MAGIC.length || buffer.toString('latin1') !== ARCHIVE_MAGIC) return 'not a pg_dump custom-format archive (no PGDMP header)';
    return null;
  } finally {
    await handle.close();
  }
}

/**
 * `pg_dump --format=custom` of the database into `<dir>/threadloom-….pgdump`: written to a
 * hidden partial file and renamed into place only when pg_dump succeeded and the archive looks
 * whole, so a failed dump leaves nothing in the list. pg_dump reads one consistent snapshot
 * while the instances keep writing. An unusable pg_dump (missing, older than the server) is
 * refused before anything starts, with what to install.
 */
export async function createPgBackup(db: Db, dir: string, options: PgBackupOptions): Promise<BackupEntry> {
  const tool = await checkPgDump(db, options.pgDump);
  if (!tool.ok) throw new ThreadloomError('unsupported', `backup refused: ${tool.message}`, { userMessage: `The backup cannot run: ${tool.message}.` });
  const { password } = splitPassword(options.url);
  await mkdir(dir, { recursive: true });
  const name = freeName(dir, options.now, options.reason, 'pgdump');
  const file = path.join(dir, name);
  const partial = path.join(dir, `.${name}.partial`);
  const started = performance.now();
  const schema = await schemaVersion(db);
  const release = claimPartial(partial);
  try {
    await runPgDump(tool.path, options.url, partial);
    const problem = await checkArchive(partial);
    if (problem) throw new Error(problem);
    await rename(partial, file);
  } catch (err) {
    await rm(partial, { force: true });
    const reason = redactUrls(errorMessage(err), password);
    throw new ThreadloomError('database', `backup failed, nothing was written: ${reason}`, { cause: err, userMessage: `The backup failed: ${reason}` });
  } finally {
    release();
  }
  const { size } = await stat(file);
  const sidecar: Sidecar = {
    createdAt: options.now.toISOString(),
    reason: options.reason,
    sizeBytes: size,
    durationMs: Math.round(performance.now() - started),
    verified: 'ok',
    message: null,
    schemaVersion: schema,
    madeBy: `pg_dump ${tool.version} of PostgreSQL ${tool.server}`,
  };
  await writeSidecar(dir, name, sidecar);
  return describeBackup(dir, parseBackupName(name)!);
}

/** Checks a pg_dump backup's archive header again and records the verdict, keeping how it was made. */
export async function reverifyPgBackup(dir: string, parsed: BackupName): Promise<BackupEntry> {
  const before = await describeBackup(dir, parsed);
  const file = path.join(dir, parsed.name);
  const problem = await checkArchive(file);
  const { size } = await stat(file);
  await writeSidecar(dir, parsed.name, {
    createdAt: parsed.createdAt.toISOString(),
    reason: parsed.reason,
    sizeBytes: size,
    durationMs: before.durationMs ?? 0,
    verified: problem ? 'failed' : 'ok',
    message: problem,
    schemaVersion: before.schemaVersion,
    ...(before.madeBy ? { madeBy: before.madeBy } : {}),
  });
  return describeBackup(dir, parsed);
}
