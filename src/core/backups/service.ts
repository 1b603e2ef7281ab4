import { constants, lstatSync, type ReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { OpenedDatabase } from '../db/open.js';
import { errorMessage, ThreadloomError } from '../errors.js';
import { instanceName } from '../instances/identity.js';
import { Leases } from '../instances/leases.js';
import type { Logger } from '../log.js';
import { createBackup, reverifyBackup, type OnPageProgress } from './backup.js';
import { listBackups, NotARegularFile, type BackupEntry } from './catalog.js';
import { removeStalePartials } from './partials.js';
import { requireBackupName, sidecarName, type BackupFormat, type BackupReason } from './names.js';
import { createPgBackup, reverifyPgBackup } from './pg-backup.js';
import { checkPgDump, splitPassword, type PgDumpCheck } from './pg-dump.js';
import { restoreDatabase, type RestoreProgress, type RestoreReport } from './restore.js';
import { backupsToDelete } from './retention.js';
import { scheduleBackups, type ScheduleSlot } from './schedule.js';

export type BackupsConfig = Config['backups'];

/**
 * A backup in the folder by name, or a file from elsewhere (an upload, a path given to the CLI);
 * `label` is what messages call the file (an upload's own name, not where it was staged).
 */
export type RestoreSource = { name: string } | { file: string; label?: string };

/** The largest upload a restore accepts, unless the options say otherwise. */
export const MAX_UPLOAD_BYTES = 8 * 1024 ** 3;

/** On PostgreSQL, the instance holding this lease takes the scheduled backup due now. */
export const SCHEDULE_LEASE = 'backups:schedule';
/** The longest a scheduled slot stays taken after it was due (see `slotLeaseMs`). */
const SLOT_LEASE_MAX_MS = 60 * 60 * 1000;
const SLOT_LEASE_MIN_MS = 1000;

/**
 * How long a scheduled slot's lease lasts: half the time to the next slot, at most an hour. An
 * instance whose timer fires later than that for the same slot (clock skew, a blocked event
 * loop) would take a second backup; one firing at the next slot finds the lease lapsed.
 */
export function slotLeaseMs(slot: ScheduleSlot): number {
  const gap = slot.next ? slot.next.getTime() - slot.due.getTime() : SLOT_LEASE_MAX_MS * 2;
  return Math.max(SLOT_LEASE_MIN_MS, Math.min(SLOT_LEASE_MAX_MS, Math.floor(gap / 2)));
}

/** The command that restores a pg_dump backup, for the page, the CLI and refusals. */
export function pgRestoreCommand(url: string | null | undefined, file: string): string {
  let target = '<database URL>';
  try {
    if (url) target = splitPassword(url).dbname;
  } catch {
    // an unparsable URL: the placeholder
  }
  return `pg_restore --clean --if-exists --dbname='${target}' ${file}`;
}

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
  /** on PostgreSQL: the database's URL, password included (pg_dump gets it in PGPASSWORD) */
  databaseUrl?: string | null;
  /** on PostgreSQL: this instance's name, the holder of the schedule's lease (default: a new one) */
  instance?: string;
}

/**
 * Backups for the admin web and the CLI. One backup, restore or retention run at a time: a second
 * request while one runs is refused at once with a clear message rather than queued, so a user
 * clicking twice gets one backup and a scheduled run never piles up behind a long restore.
 */
export class BackupService {
  readonly dir: string;
  /** `pgdump` on PostgreSQL: backups are pg_dump archives, restored with pg_restore by hand */
  readonly format: BackupFormat;
  private running: string | null = null;
  private readonly now: () => Date;

  constructor(private readonly options: BackupServiceOptions) {
    this.dir = path.join(options.dataDir, 'backups');
    this.now = options.now ?? (() => new Date());
    this.format = options.database.kind === 'postgres' ? 'pgdump' : 'sqlite';
  }

  /** On PostgreSQL: the pg_dump backups would run and whether it can dump this server; null on SQLite. */
  async pgDump(): Promise<PgDumpCheck | null> {
    if (this.options.database.kind !== 'postgres') return null;
    return checkPgDump(this.options.database.db, this.options.config.pgDump);
  }

  /** On PostgreSQL: how to restore a backup (`file`: its path or a placeholder). */
  restoreCommand(file = '<backup file>'): string {
    return pgRestoreCommand(this.options.databaseUrl, file);
  }

  /** On PostgreSQL, why a restore is not done from here, and the command that does it. */
  restoreRefusal(file?: string): ThreadloomError {
    const how = `stop every Threadloom instance, then run ${this.restoreCommand(file)}, then start them again`;
    return new ThreadloomError('unsupported', `restore on PostgreSQL is done with pg_restore: ${how}`, { userMessage: `On PostgreSQL a backup is restored with pg_restore: ${how}.` });
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
    const entry = this.options.database.kind === 'postgres' ? await this.dump(reason) : await createBackup(this.options.database, this.dir, { reason, now: this.now(), onProgress });
    if (entry.status === 'ok') this.options.log.info(`backup ${entry.name} written and verified (${entry.sizeBytes} bytes)`);
    else this.options.log.error(`backup ${entry.name} failed verification: ${entry.message}`);
    return entry;
  }

  private dump(reason: BackupReason): Promise<BackupEntry> {
    const { database, databaseUrl, config } = this.options;
    if (!databaseUrl) throw new ThreadloomError('config', 'pg_dump backups need the database URL (BackupServiceOptions.databaseUrl)');
    return createPgBackup(database.db, this.dir, { reason, now: this.now(), url: databaseUrl, pgDump: config.pgDump });
  }

  /** The backups of the database in use (SQLite copies, or pg_dump archives on PostgreSQL), newest first. */
  list(): Promise<BackupEntry[]> {
    return listBackups(this.dir, this.format);
  }

  /** The file of a backup; only names of regular files in the folder resolve, never a symlink. */
  pathOf(name: string): string {
    requireBackupName(name, this.format);
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
    const parsed = requireBackupName(name, this.format);
    return this.exclusive('verification', () => (this.format === 'pgdump' ? reverifyPgBackup(this.dir, parsed) : reverifyBackup(this.dir, parsed)));
  }

  /**
   * Restores a SQLite backup in place. On PostgreSQL this refuses with the pg_restore command: a
   * restore there replaces the database every instance is writing to, so it is done by hand with
   * the instances stopped, not from one of them.
   */
  async restore(source: RestoreSource, onProgress?: (progress: RestoreProgress) => void): Promise<RestoreReport> {
    if (this.format === 'pgdump') throw this.restoreRefusal('name' in source ? path.join(this.dir, requireBackupName(source.name, 'pgdump').name) : path.resolve(source.file));
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
   * failed verification, so a bad night never costs an older good backup. On PostgreSQL only the
   * instance that takes the slot's lease calls it (`runScheduledSlot`).
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

  /**
   * One firing of the schedule on PostgreSQL, where every instance's timer fires: the instance
   * that takes the lease `backups:schedule` backs up, the others skip the slot. The lease is
   * renewed while the backup runs (a long dump is not joined by another instance's next slot)
   * and left to lapse afterwards, not released, so an instance firing late for the same slot
   * still finds it taken. An instance whose pg_dump cannot dump the server does not compete,
   * leaving the slot to one that can. Returns the backup, or null when this instance skipped.
   */
  async runScheduledSlot(slot: ScheduleSlot): Promise<BackupEntry | null> {
    const { log, database } = this.options;
    const due = slot.due.toISOString();
    const tool = await this.pgDump();
    if (tool && !tool.ok) {
      log.error(`scheduled backup due ${due} not taken here: ${tool.message}`);
      return null;
    }
    const leases = new Leases(database.db, this.instance);
    const ttlMs = slotLeaseMs(slot);
    if (!(await leases.take(SCHEDULE_LEASE, ttlMs))) {
      const holder = await leases.holderOf(SCHEDULE_LEASE).catch(() => null);
      log.info(`scheduled backup due ${due}: taken by another instance${holder ? ` (${holder.holder})` : ''}`);
      return null;
    }
    const renew = setInterval(() => {
      leases.take(SCHEDULE_LEASE, ttlMs).catch((err: unknown) => log.warn(`lease ${SCHEDULE_LEASE}: could not renew it: ${errorMessage(err)}`));
    }, Math.max(500, Math.floor(ttlMs / 3)));
    renew.unref();
    try {
      return await this.runScheduled();
    } finally {
      clearInterval(renew);
    }
  }

  /** this instance's name as the holder of the schedule's lease */
  private get instance(): string {
    this.holder ??= this.options.instance ?? instanceName();
    return this.holder;
  }
  private holder: string | undefined;

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
    if (this.options.database.kind === 'postgres') {
      // said once at start; each firing says it again if it is still so
      void this.pgDump().then(
        (tool) => tool && !tool.ok && this.options.log.warn(`scheduled backups cannot run on this instance: ${tool.message}`),
        () => undefined,
      );
      return scheduleBackups(schedule, async (slot) => void (await this.runScheduledSlot(slot)), this.options.log);
    }
    return scheduleBackups(schedule, async () => void (await this.runScheduled()), this.options.log);
  }
}
