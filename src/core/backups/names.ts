import { ThreadloomError } from '../errors.js';

/** Why a backup was taken; `manual` and `pre-restore` backups are never deleted by retention. */
export type BackupReason = 'scheduled' | 'manual' | 'pre-restore';

export const PROTECTED_REASONS: ReadonlySet<string> = new Set<BackupReason>(['manual', 'pre-restore']);

/**
 * What a backup file is: a copy of the SQLite file (`.sqlite`), or `pg_dump --format=custom` of
 * the PostgreSQL database (`.pgdump`, restored with pg_restore).
 */
export type BackupFormat = 'sqlite' | 'pgdump';

/**
 * `threadloom-YYYYMMDD-HHMMSS[-reason][-n].sqlite` (or `.pgdump`), UTC. The counter `n` only
 * appears when two backups with the same reason fall in the same second. Nothing else in the
 * backups folder can be referenced by name, so a name can never point outside it.
 */
const NAME_PATTERN = /^threadloom-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(?:-([a-z]+(?:-[a-z]+)*))?(?:-(\d{1,4}))?\.(sqlite|pgdump)$/;

export interface BackupName {
  name: string;
  createdAt: Date;
  reason: string | null;
  /** 1 for the first backup of a second, 2… for the ones that had to dodge a taken name */
  sequence: number;
}

export function parseBackupName(name: string): BackupName | null {
  const match = NAME_PATTERN.exec(name);
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const createdAt = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 20260231 over into March; a name that does not round-trip is not ours
  if (formatStamp(createdAt) !== `${match[1]}${match[2]}${match[3]}-${match[4]}${match[5]}${match[6]}`) return null;
  return { name, createdAt, reason: match[7] ?? null, sequence: match[8] ? Number(match[8]) : 1 };
}

/** The format a backup's name says it has (only meaningful for a name that parses). */
export function backupFormat(name: string): BackupFormat {
  return name.endsWith('.pgdump') ? 'pgdump' : 'sqlite';
}

/**
 * The parsed name, or a ThreadloomError a user can act on. With `format`, a name of the other
 * format is refused too: a SQLite installation has no pg_dump backups to serve, and the reverse.
 */
export function requireBackupName(name: string, format?: BackupFormat): BackupName {
  const parsed = parseBackupName(name);
  if (!parsed || (format && backupFormat(name) !== format)) {
    throw new ThreadloomError('invalid', `not a backup name: ${JSON.stringify(name)}`, {
      userMessage: `That is not the name of a backup (expected threadloom-YYYYMMDD-HHMMSS-reason.${format ?? 'sqlite'}).`,
    });
  }
  return parsed;
}

function formatStamp(date: Date): string {
  const iso = date.toISOString(); // 2026-11-22T03:00:05.123Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

export function backupName(createdAt: Date, reason: BackupReason, sequence = 1, format: BackupFormat = 'sqlite'): string {
  return `threadloom-${formatStamp(createdAt)}-${reason}${sequence > 1 ? `-${sequence}` : ''}.${format}`;
}

export function sidecarName(name: string): string {
  return `${name}.json`;
}
