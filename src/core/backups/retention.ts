import type { BackupStatus } from './catalog.js';
import { PROTECTED_REASONS } from './names.js';

export interface RetentionPolicy {
  keepDaily: number;
  keepWeekly: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { keepDaily: 7, keepWeekly: 4 };

export interface RetainedBackup {
  name: string;
  createdAt: Date;
  reason: string | null;
  status: BackupStatus;
}

const DAY_MS = 86_400_000;

/** Days since 1970-01-01, in UTC like the backup names. */
function dayNumber(date: Date): number {
  return Math.floor(date.getTime() / DAY_MS);
}

/** The day number of the Monday starting the date's ISO week (1970-01-01 was a Thursday). */
function weekStart(date: Date): number {
  const day = dayNumber(date);
  return day - ((day + 3) % 7);
}

/**
 * Which backups retention deletes, given the folder's list and the current time. Kept:
 * - the newest backup of each of the last `keepDaily` days (today included),
 * - the newest backup of each of the last `keepWeekly` ISO weeks (this week included),
 * - every `manual` and `pre-restore` backup, and anything dated in the future,
 * - the newest backup that verified ok, however old,
 * - a failed backup while it is within the daily window, so it can be looked at.
 * A failed backup never takes a day's or week's place, so it cannot push out a good one.
 * Days and weeks are UTC.
 */
export function backupsToDelete<T extends RetainedBackup>(backups: readonly T[], now: Date, policy: RetentionPolicy = DEFAULT_RETENTION): T[] {
  const today = dayNumber(now);
  const thisWeek = weekStart(now);
  const newestFirst = [...backups].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const keep = new Set<T>();
  const daysTaken = new Set<number>();
  const weeksTaken = new Set<number>();

  const newestVerified = newestFirst.find((b) => b.status === 'ok');
  if (newestVerified) keep.add(newestVerified);

  for (const backup of newestFirst) {
    const daysAgo = today - dayNumber(backup.createdAt);
    const weeksAgo = (thisWeek - weekStart(backup.createdAt)) / 7;
    if (PROTECTED_REASONS.has(backup.reason ?? '') || backup.createdAt > now) {
      keep.add(backup);
    }
    if (backup.status === 'failed') {
      if (daysAgo < policy.keepDaily) keep.add(backup);
      continue;
    }
    if (daysAgo < policy.keepDaily && !daysTaken.has(daysAgo)) {
      daysTaken.add(daysAgo);
      keep.add(backup);
    }
    if (weeksAgo < policy.keepWeekly && !weeksTaken.has(weeksAgo)) {
      weeksTaken.add(weeksAgo);
      keep.add(backup);
    }
  }
  return newestFirst.filter((b) => !keep.has(b));
}
