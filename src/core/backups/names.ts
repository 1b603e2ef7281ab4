import { ThreadloomError } from '../errors.js';

/** Why a backup was taken; `manual` and `pre-restore` backups are never deleted by retention. */
export type BackupReason = 'scheduled' | 'manual' | 'pre-restore';

export const PROTECTED_REASONS: ReadonlySet<string> = new Set<BackupReason>(['manual', 'pre-restore']);

/**
 * `threadloom-YYYYMMDD-HHMMSS[-reason][-n].sqlite`, UTC. The counter `n` only appears when two
 * backups with the same reason fall in the same second. Nothing else in the backups folder can be
 * referenced by name, so a name can never point outside it.
 */
const NAME_PATTERN = /^threadloom-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(?:-([a-z]+(?:-[a-z]+)*))?(?:-(\d{1,4}))?\.sqlite$/;

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

/** The parsed name, or a ThreadloomError a user can act on. */
export function requireBackupName(name: string): BackupName {
  const parsed = parseBackupName(name);
  if (!parsed) {
    throw new ThreadloomError('invalid', `not a backup name: ${JSON.stringify(name)}`, {
      userMessage: 'That is not the name of a backup (expected threadloom-YYYYMMDD-HHMMSS-reason.sqlite).',
    });
  }
  return parsed;
}

function formatStamp(date: Date): string {
  const iso = date.toISOString(); // 2026-11-22T03:00:05.123Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

export function backupName(createdAt: Date, reason: BackupReason, sequence = 1): string {
  return `threadloom-${formatStamp(createdAt)}-${reason}${sequence > 1 ? `-${sequence}` : ''}.sqlite`;
}

export function sidecarName(name: string): string {
  return `${name}.json`;
}
