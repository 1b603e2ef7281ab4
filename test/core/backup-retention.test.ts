import { describe, expect, it } from 'vitest';
import type { BackupStatus } from '../../src/core/backups/catalog.js';
import { backupName, type BackupReason } from '../../src/core/backups/names.js';
import { backupsToDelete, type RetainedBackup } from '../../src/core/backups/retention.js';

// 2026-11-25 is a Wednesday; its ISO week runs Monday 11-23 to Sunday 11-29.
const NOW = new Date('2026-11-25T12:00:00Z');

function backup(iso: string, reason: BackupReason = 'scheduled', status: BackupStatus = 'ok'): RetainedBackup {
  const createdAt = new Date(iso);
  return { name: backupName(createdAt, reason), createdAt, reason, status };
}

/** One scheduled backup at 03:00 UTC on each of the `days` days up to and including NOW's. */
function nightly(days: number): RetainedBackup[] {
  return Array.from({ length: days }, (_, i) => backup(new Date(Date.UTC(2026, 10, 25 - i, 3)).toISOString()));
}

function kept(all: RetainedBackup[], now = NOW, policy = { keepDaily: 7, keepWeekly: 4 }): string[] {
  const deleted = new Set(backupsToDelete(all, now, policy));
  return all
    .filter((b) => !deleted.has(b))
    .map((b) => b.createdAt.toISOString().slice(0, 16))
    .sort();
}

describe('backupsToDelete', () => {
  it('should keep the last 7 days and the newest backup of each of the last 4 ISO weeks', () => {
    expect(kept(nightly(60))).toEqual([
      '2026-11-08T03:00', // Sunday ending the week of 11-02 (3 weeks ago)
      '2026-11-15T03:00', // Sunday ending the week of 11-09 (2 weeks ago)
      // the last 7 days; they include the newest of last week (Sunday 11-22) and of this week (today)
      '2026-11-19T03:00',
      '2026-11-20T03:00',
      '2026-11-21T03:00',
      '2026-11-22T03:00',
      '2026-11-23T03:00',
      '2026-11-24T03:00',
      '2026-11-25T03:00',
    ]);
  });

  it('should delete nothing when every backup is still inside the windows', () => {
    expect(backupsToDelete(nightly(7), NOW)).toEqual([]);
    expect(backupsToDelete([], NOW)).toEqual([]);
  });

  it('should keep only the newest backup of a day', () => {
    const all = [backup('2026-11-24T03:00:00Z'), backup('2026-11-24T15:00:00Z'), backup('2026-11-24T09:00:00Z')];
    expect(backupsToDelete(all, NOW).map((b) => b.createdAt.toISOString())).toEqual(['2026-11-24T09:00:00.000Z', '2026-11-24T03:00:00.000Z']);
  });

  it('should count days in UTC, like the file names', () => {
    const lateMonday = backup('2026-11-23T23:30:00Z');
    const earlyTuesday = backup('2026-11-24T00:30:00Z');
    expect(backupsToDelete([lateMonday, earlyTuesday], NOW)).toEqual([]);
  });

  it('should start ISO weeks on Monday', () => {
    const all = [backup('2026-11-23T03:00:00Z'), backup('2026-11-22T03:00:00Z'), backup('2026-11-21T03:00:00Z')];
    // keepDaily 1 = today only (nothing today); two weeks: this week's Monday and last week's Sunday
    expect(kept(all, NOW, { keepDaily: 1, keepWeekly: 2 })).toEqual(['2026-11-22T03:00', '2026-11-23T03:00']);
  });

  it('should treat the days around new year as one ISO week', () => {
    // Thursday 2026-12-31 and Friday 2027-01-01 are both in ISO week 53 of 2026
    const now = new Date('2027-01-06T12:00:00Z'); // Wednesday of the next week
    const all = [backup('2026-12-31T03:00:00Z'), backup('2027-01-01T03:00:00Z')];
    expect(kept(all, now, { keepDaily: 1, keepWeekly: 4 })).toEqual(['2027-01-01T03:00']);
  });

  it('should never delete manual or pre-restore backups, however old', () => {
    const all = [...nightly(3), backup('2025-01-01T10:00:00Z', 'manual'), backup('2025-06-01T10:00:00Z', 'pre-restore'), backup('2025-06-02T03:00:00Z')];
    expect(kept(all)).toEqual(['2025-01-01T10:00', '2025-06-01T10:00', '2026-11-23T03:00', '2026-11-24T03:00', '2026-11-25T03:00']);
  });

  it('should keep the newest verified backup even when it is outside every window', () => {
    const all = [
      backup('2026-11-25T03:00:00Z', 'scheduled', 'failed'),
      backup('2026-11-24T03:00:00Z', 'scheduled', 'failed'),
      backup('2026-08-01T03:00:00Z'),
      backup('2026-07-01T03:00:00Z'),
    ];
    expect(kept(all)).toEqual(['2026-08-01T03:00', '2026-11-24T03:00', '2026-11-25T03:00']);
  });

  it('should not let a failed backup take the place of a good one of the same day', () => {
    const good = backup('2026-11-24T03:00:00Z');
    const failedLater = backup('2026-11-24T04:00:00Z', 'scheduled', 'failed');
    expect(backupsToDelete([backup('2026-11-25T03:00:00Z'), good, failedLater], NOW)).toEqual([]);
  });

  it('should delete failed backups once they are older than the daily window', () => {
    const oldFailed = backup('2026-11-10T03:00:00Z', 'scheduled', 'failed');
    expect(backupsToDelete([...nightly(2), oldFailed], NOW)).toEqual([oldFailed]);
  });

  it('should let an unverified backup fill a day but not count as the newest verified', () => {
    const unverified = backup('2026-11-25T05:00:00Z', 'scheduled', 'unverified');
    const verified = backup('2026-11-25T03:00:00Z');
    const older = backup('2026-11-20T03:00:00Z');
    // today's place goes to the newer unverified file; the 03:00 one stays as the newest verified
    expect(backupsToDelete([unverified, verified, older], NOW, { keepDaily: 1, keepWeekly: 0 })).toEqual([older]);
  });

  it('should keep backups dated in the future (a clock that was wrong)', () => {
    const future = backup('2026-12-24T03:00:00Z');
    expect(backupsToDelete([future, ...nightly(1)], NOW)).toEqual([]);
  });
});
