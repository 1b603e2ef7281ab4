import { constants, lstatSync, type ReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { OpenedDatabase } from '../db/open.js';
import { errorMessage, ThreadloomError } from '../errors.js';
import type { Logger } from '../log.js';
import { createBackup, reverifyBackup, type OnPageProgress } from './backup.js';
import { listBackups, NotARegularFile, type BackupEntry } from './catalog.js';
import { removeStalePartials } from './partials.js';
import { requireBackupName, sidecarName, type BackupReason } from './names.js';
import { restoreDatabase, type RestoreProgress, type RestoreReport } from './restore.js';
import { backupsToDelete } from './retention.js';
import { scheduleBackups } from './schedule.js';

export type BackupsConfig = Config['backups'];

/**
 * A backup in the folder by name, or a file from elsewhere (an upload, a path given to the CLI);
 * `label` is what messages call the file (an upload's own name, not where it was staged).
 */
export type RestoreSource = { name: string } | { file: string; label?: string };

/** The largest upload a restore accepts, unless the options say otherwise. */
export const MAX_UPLOAD_BYTES = 8 * 1024 ** 3;

export interface BackupServiceOptions {
  database: OpenedDatabase;
  dataDir: string;
  config: BackupsConfig;
  log: Logger;
  now?: () => Date;
  /** after a restore: drop whatever caches rows (e.g. ExperienceService.clearCache) */
  onRestored?: () => void | Promise<void>;
  /** tests only: a different migrations folder */
  migrationsDir?: string;
  /** the largest file a restore accepts by upload (default 8 GiB) */
  maxUploadBytes?: number;
}

/**
 * Backups for the admin web and the CLI. One backup, restore or retention run at a time: a second
 * request while one runs is refused at once with a clear message rather than queued, so a user
 * clicking twice gets one backup and a scheduled run never piles up behind a long restore.
 */
export class BackupService {
  readonly dir: string;
  private running: string | null = null;
  private readonly now: () => Date;

  constructor(private readonly options: BackupServiceOptions) {
    this.dir = path.join(options.dataDir, 'backups');
    this.now = options.now ?? (() => new Date());
  }

  get maxUploadBytes(): number {
    return this.options.maxUploadBytes ?? MAX_UPLOAD_BYTES;
  }

  /** What is running now (`backup`, `restore`, `retention`), or null. */
  get busy(): string | null {
    return this.running;
  }

  private async exclusive<T>(what: string, work: () => Promise<T>): Promise<T> {
    if (this.running) {
      throw new ThreadloomError('invalid', `${what} refused: a ${this.running} is already running`, {
        userMessage: `A ${this.running} is already running; try again when it has finished.`,
      });
    }
    this.running = what;
    try {
      return await work();
    } finally {
      this.running = null;
    }
  }

  /** Takes and verifies a backup. A failed verification is returned (status `failed`), not thrown. */
  backupNow(reason: BackupReason = 'manual', onProgress?: OnPageProgress): Promise<BackupEntry> {
    return this.exclusive('backup', () => this.takeBackup(reason, onProgress));
  }

  private async takeBackup(reason: BackupReason, onProgress?: OnPageProgress): Promise<BackupEntry> {
    const entry = await createBackup(this.options.database, this.dir, { reason, now: this.now(), onProgress });
    if (entry.status === 'ok') this.options.log.info(`backup ${entry.name} written and verified (${entry.sizeBytes} bytes)`);
    else this.options.log.error(`backup ${entry.name} failed verification: ${entry.message}`);
    return entry;
  }

  list(): Promise<BackupEntry[]> {
    return listBackups(this.dir);
  }

  /** The file of a backup; only names of regular files in the folder resolve, never a symlink. */
  pathOf(name: string): string {
    requireBackupName(name);
    const file = path.join(this.dir, name);
    const stats = lstatSync(file, { throwIfNoEntry: false });
    if (!stats) throw new ThreadloomError('not_found', `no backup named ${name}`, { userMessage: `There is no backup called ${name}.` });
    if (!stats.isFile()) throw new NotARegularFile(name);
    return file;
  }

  /** A backup's content for a download; opened without following a symlink swapped in meanwhile. */
  async read(name: string): Promise<{ stream: ReadStream; sizeBytes: number }> {
    const file = this.pathOf(name);
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ELOOP' ? new NotARegularFile(name) : err;
    });
    const stats = await handle.stat();
    if (!stats.isFile()) {
      await handle.close();
      throw new NotARegularFile(name);
    }
    return { stream: handle.createReadStream(), sizeBytes: stats.size };
  }

  /** Checks a backup again and records the new verdict. */
  async verify(name: string): Promise<BackupEntry> {
    this.pathOf(name);
    return this.exclusive('verification', () => reverifyBackup(this.dir, requireBackupName(name)));
  }

  async restore(source: RestoreSource, onProgress?: (progress: RestoreProgress) => void): Promise<RestoreReport> {
    const file = 'name' in source ? this.pathOf(source.name) : path.resolve(source.file);
    const label = 'name' in source ? source.name : (source.label ?? path.basename(file));
    return this.exclusive('restore', async () => {
      const report = await restoreDatabase(this.options.database, this.dir, file, { now: this.now(), onProgress, migrationsDir: this.options.migrationsDir, label: 'name' in source ? undefined : source.label });
      const before = report.preRestoreBackup;
      this.options.log.info(`restored ${label}${before ? `; the database before it is in ${before.name}` : ' into an empty database'}`);
      if (before && before.status !== 'ok') this.options.log.warn(`the pre-restore backup ${before.name} failed verification: ${before.message}`);
      try {
        await this.options.onRestored?.();
      } catch (err) {
        this.options.log.error(`after the restore, clearing caches failed (restart Threadloom): ${errorMessage(err)}`);
      }
      return report;
    });
  }

  /** Deletes what the retention policy no longer keeps; returns the deleted backups. */
  applyRetention(): Promise<BackupEntry[]> {
    return this.exclusive('retention', () => this.deleteExpired());
  }

  private async deleteExpired(): Promise<BackupEntry[]> {
    const { keepDaily, keepWeekly } = this.options.config;
    const doomed = backupsToDelete(await this.list(), this.now(), { keepDaily, keepWeekly });
    for (const backup of doomed) {
      await rm(path.join(this.dir, backup.name), { force: true });
      await rm(path.join(this.dir, sidecarName(backup.name)), { force: true });
    }
    if (doomed.length) this.options.log.info(`retention deleted ${doomed.length} old backup(s): ${doomed.map((b) => b.name).join(', ')}`);
    return doomed;
  }

  /**
   * What the schedule runs: a backup, then retention. Retention is skipped when the new backup
   * failed verification, so a bad night never costs an older good backup.
   */
  runScheduled(): Promise<BackupEntry> {
    return this.exclusive('scheduled backup', async () => {
      await this.removeStalePartials().catch((err: unknown) => this.options.log.warn(`could not clear unfinished backup files: ${errorMessage(err)}`));
      const entry = await this.takeBackup('scheduled');
      if (entry.status === 'ok') await this.deleteExpired();
      else this.options.log.warn('retention skipped because the new backup failed verification');
      return entry;
    });
  }

  /** Removes what killed backups, uploads and restores left behind (see partials.ts). */
  async removeStalePartials(): Promise<string[]> {
    const removed = await removeStalePartials(this.dir);
    if (removed.length) this.options.log.info(`removed ${removed.length} unfinished file(s) a stopped backup or restore left in ${this.dir}: ${removed.join(', ')}`);
    return removed;
  }

  /** Starts the cron schedule from config (and clears stale partial files); returns the function that stops it. */
  startSchedule(): () => Promise<void> {
    this.removeStalePartials().catch((err: unknown) => this.options.log.warn(`could not clear unfinished backup files: ${errorMessage(err)}`));
    const { enabled, schedule } = this.options.config;
    if (!enabled) {
      this.options.log.info('scheduled backups are off (backups.enabled: false)');
      return async () => {};
    }
    // said once at start, not as a failure every night on every instance
    if (this.options.database.kind === 'postgres') {
      this.options.log.info('scheduled backups: not on PostgreSQL yet; back up with pg_dump (docs/scale.md)');
      return async () => {};
    }
    return scheduleBackups(schedule, async () => void (await this.runScheduled()), this.options.log);
  }
}
