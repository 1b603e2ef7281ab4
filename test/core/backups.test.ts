import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackup } from '../../src/core/backups/backup.js';
import { parseBackupName } from '../../src/core/backups/names.js';
import { restoreDatabase } from '../../src/core/backups/restore.js';
import { BackupService, type BackupsConfig } from '../../src/core/backups/service.js';
import { loadConfig } from '../../src/core/config.js';
import { openDatabase } from '../../src/core/db/open.js';
import { silentLogger } from '../../src/core/log.js';
import { copyMigrations, TestContext } from '../support/db.js';
import { BACKUPS_COPY_THE_SQLITE_FILE, sqliteOnly } from '../support/postgres.js';

const CONFIG: BackupsConfig = { schedule: '0 3 * * *', keepDaily: 7, keepWeekly: 4, enabled: true };

let ctx: TestContext;
let clock: Date;
let restoredHooks: number;
let scratch: string;

function service(overrides: Partial<ConstructorParameters<typeof BackupService>[0]> = {}): BackupService {
  return new BackupService({
    database: ctx.database,
    dataDir: ctx.database.dir,
    config: CONFIG,
    log: silentLogger,
    now: () => clock,
    onRestored: () => {
      restoredHooks++;
      ctx.experiences.clearCache();
    },
    ...overrides,
  });
}

/** Moves the clock on, so each backup gets its own second in its name. */
function tick(seconds = 1): void {
  clock = new Date(clock.getTime() + seconds * 1000);
}

async function contents(): Promise<string[]> {
  return (await ctx.db.selectFrom('messages').select('content').orderBy('id').execute()).map((r) => r.content);
}

/** Reads a database file with its own connection, the way another process would. */
function readFile(file: string, query: string): unknown[] {
  const sqlite = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    return sqlite.prepare(query).all();
  } finally {
    sqlite.close();
  }
}

/** Enough messages that the database spans a few hundred pages. */
async function fill(count: number): Promise<number> {
  const conversation = await ctx.newConversation();
  for (let i = 0; i < count; i++) await ctx.say(conversation.id, `message ${i} ${'x'.repeat(2000)}`);
  return conversation.id;
}

function newestMigration(): string {
  return (ctx.database.sqlite.prepare('select max(name) as name from kysely_migration').get() as { name: string }).name;
}

beforeEach(async () => {
  ctx = await TestContext.create();
  clock = new Date('2026-11-25T03:00:00Z');
  restoredHooks = 0;
  scratch = mkdtempSync(path.join(tmpdir(), 'threadloom-backup-test-'));
});

afterEach(async () => {
  await ctx.close();
  rmSync(scratch, { recursive: true, force: true });
});

const onSqliteFile = sqliteOnly(BACKUPS_COPY_THE_SQLITE_FILE);

describe(BackupService.name, () => {
  onSqliteFile.describe('backupNow', () => {
    it('should write a verified, self-contained copy holding the data, and report its progress', async () => {
      const conversation = await ctx.newConversation();
      await ctx.say(conversation.id, 'remember the milk');
      const progress: Array<[number, number]> = [];

      const entry = await service().backupNow('manual', (p) => progress.push([p.pagesDone, p.pagesTotal]));

      expect(entry).toMatchObject({ name: 'threadloom-20261125-030000-manual.sqlite', reason: 'manual', status: 'ok', message: null, schemaVersion: newestMigration() });
      const file = path.join(ctx.database.dir, 'backups', entry.name);
      expect(readFile(file, 'select content from messages')).toEqual([{ content: 'remember the milk' }]);
      // one file to download: no -wal/-shm beside it, only the sidecar
      expect(readdirSync(path.dirname(file)).sort()).toEqual([entry.name, `${entry.name}.json`]);
      expect(JSON.parse(readFileSync(`${file}.json`, 'utf8'))).toMatchObject({ reason: 'manual', verified: 'ok', sizeBytes: statSync(file).size, schemaVersion: newestMigration() });
      const [done, total] = progress.at(-1)!;
      expect(total).toBeGreaterThan(0);
      expect(done).toBe(total);
      expect(progress.every(([d], i) => i === 0 || d >= progress[i - 1]![0])).toBe(true);
    });

    it('should take a consistent copy while other connections keep writing', async () => {
      await fill(150);
      ctx.database.sqlite.exec('create table ticks (n integer not null)');
      const other = new SQLite(ctx.database.file);
      other.pragma('busy_timeout = 5000');
      let steps = 0;

      const entry = await createBackup(ctx.database, path.join(ctx.database.dir, 'backups'), {
        reason: 'manual',
        now: clock,
        pagesPerStep: 20,
        onProgress: ({ pagesDone, pagesTotal }) => {
          if (pagesDone === pagesTotal) return; // the final report comes after the copy is done
          steps++;
          // another connection: the backup must start over to include it
          if (steps <= 3) other.prepare('insert into ticks (n) values (?)').run(steps);
          // the live connection itself: SQLite updates the copy as it goes
          ctx.database.sqlite.prepare('insert into ticks (n) values (?)').run(1000 + steps);
        },
      });
      other.close();

      expect(steps).toBeGreaterThan(5); // the writes really did interleave with the copy
      expect(entry.status).toBe('ok');
      const file = path.join(ctx.database.dir, 'backups', entry.name);
      const live = ctx.database.sqlite.prepare('select count(*) as n, sum(n) as total from ticks').get();
      expect(readFile(file, 'select count(*) as n, sum(n) as total from ticks')).toEqual([live]);
      expect(readFile(file, 'select count(*) as n from messages')).toEqual([{ n: 150 }]);
    });

    it('should keep a copy that fails verification, mark it failed and report it, without throwing', async () => {
      const empty = openDatabase(path.join(scratch, 'not-migrated.db'));
      empty.sqlite.exec('create table notes (text text)');
      const entry = await new BackupService({ database: empty, dataDir: scratch, config: CONFIG, log: silentLogger, now: () => clock }).backupNow('manual');
      await empty.close();

      expect(entry).toMatchObject({ status: 'failed', message: 'not a Threadloom database: it has no migrations table' });
      expect(existsSync(path.join(scratch, 'backups', entry.name))).toBe(true);
    });

    it('should refuse a second backup while one is running, and finish the first', async () => {
      await fill(20);
      const backups = service();
      const first = backups.backupNow('manual');
      await expect(backups.backupNow('manual')).rejects.toThrow('a backup is already running');
      expect((await first).status).toBe('ok');
      expect(await backups.list()).toHaveLength(1);
    });

    it('should give two backups in the same second different names', async () => {
      const backups = service();
      const a = await backups.backupNow('manual');
      const b = await backups.backupNow('manual');
      expect([a.name, b.name]).toEqual(['threadloom-20261125-030000-manual.sqlite', 'threadloom-20261125-030000-manual-2.sqlite']);
      expect((await backups.list()).map((e) => e.name)).toEqual([b.name, a.name]);
    });
  });

  onSqliteFile.describe('verify', () => {
    it('should report a backup whose pages were damaged as failed, and leave the others alone', async () => {
      await fill(150);
      const backups = service();
      const good = await backups.backupNow('manual');
      tick();
      const damaged = await backups.backupNow('manual');
      const file = backups.pathOf(damaged.name);
      const pageSize = 4096;
      const middle = Math.floor(statSync(file).size / pageSize / 2) * pageSize;
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.alloc(pageSize, 0xff), 0, pageSize, middle);
      closeSync(fd);

      const verdict = await backups.verify(damaged.name);

      expect(verdict.status).toBe('failed');
      expect(verdict.message).toMatch(/^integrity check failed: /);
      const listed = await backups.list();
      expect(listed.map((e) => [e.name, e.status])).toEqual([
        [damaged.name, 'failed'],
        [good.name, 'ok'],
      ]);
      expect(await backups.applyRetention()).toEqual([]);
    });
  });

  onSqliteFile.describe('list', () => {
    it('should list newest first with size, date and reason, and a file without sidecar as unverified', async () => {
      const backups = service();
      const manual = await backups.backupNow('manual');
      tick(3600);
      const scheduled = await backups.runScheduled();
      const copied = 'threadloom-20261120-120000.sqlite';
      copyFileSync(backups.pathOf(manual.name), path.join(backups.dir, copied));
      writeFileSync(path.join(backups.dir, 'notes.txt'), 'not a backup');

      const listed = await backups.list();

      expect(listed.map((e) => [e.name, e.reason, e.status])).toEqual([
        [scheduled.name, 'scheduled', 'ok'],
        [manual.name, 'manual', 'ok'],
        [copied, null, 'unverified'],
      ]);
      expect(listed[2]).toMatchObject({ createdAt: new Date('2026-11-20T12:00:00Z'), sizeBytes: manual.sizeBytes, message: 'no verification record' });
    });

    it('should return nothing before the first backup', async () => {
      expect(await service().list()).toEqual([]);
    });
  });

  onSqliteFile.describe('pathOf', () => {
    it('should only resolve names of backups inside the backups folder', async () => {
      const backups = service();
      const entry = await backups.backupNow('manual');
      expect(backups.pathOf(entry.name)).toBe(path.join(ctx.database.dir, 'backups', entry.name));
      for (const name of ['../x', `../${entry.name}`, `backups/${entry.name}`, '../threadloom.db', `${entry.name}.json`, 'threadloom-20260231-030000-manual.sqlite']) {
        expect(() => backups.pathOf(name), name).toThrow('not a backup name');
      }
      expect(() => backups.pathOf('threadloom-20250101-030000-manual.sqlite')).toThrow('no backup named');
      await expect(backups.restore({ name: '../threadloom.db' })).rejects.toThrow('not a backup name');
    });

    it('should read the date and reason from a name', () => {
      expect(parseBackupName('threadloom-20261125-030405-pre-restore-2.sqlite')).toEqual({
        name: 'threadloom-20261125-030405-pre-restore-2.sqlite',
        createdAt: new Date('2026-11-25T03:04:05Z'),
        reason: 'pre-restore',
        sequence: 2,
      });
    });
  });

  onSqliteFile.describe('restore', () => {
    it('should bring the old data back under the same open connection, which keeps working', async () => {
      const experience = await ctx.newExperience({ name: 'Before' });
      const conversation = await ctx.newConversation(experience);
      await ctx.say(conversation.id, 'kept');
      const backups = service();
      const backup = await backups.backupNow('manual');
      tick();
      await ctx.say(conversation.id, 'written after the backup');
      await ctx.experiences.update(experience.slug, { name: 'After' });
      expect((await ctx.experiences.getById(experience.id))!.name).toBe('After'); // now cached

      const phases: string[] = [];
      const report = await backups.restore({ name: backup.name }, (p) => phases.at(-1) !== p.phase && phases.push(p.phase));

      expect(await contents()).toEqual(['kept']);
      expect((await ctx.experiences.getById(experience.id))!.name).toBe('Before');
      expect(restoredHooks).toBe(1);
      expect(phases).toEqual(['checking', 'pre-restore', 'restoring', 'migrating']);
      expect(report).toMatchObject({ schemaVersion: newestMigration(), appliedMigrations: [] });
      // the same handle writes on, and another connection sees the same database
      await ctx.say(conversation.id, 'after the restore');
      expect(await contents()).toEqual(['kept', 'after the restore']);
      expect(readFile(ctx.database.file, 'select content from messages order by id')).toEqual([{ content: 'kept' }, { content: 'after the restore' }]);
      expect(ctx.database.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(ctx.database.sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
    });

    it('should take a pre-restore backup that undoes the restore', async () => {
      const conversation = await ctx.newConversation();
      await ctx.say(conversation.id, 'old');
      const backups = service();
      const old = await backups.backupNow('manual');
      tick();
      await ctx.say(conversation.id, 'new');

      const { preRestoreBackup } = await backups.restore({ name: old.name });
      expect(await contents()).toEqual(['old']);
      expect(preRestoreBackup).toMatchObject({ reason: 'pre-restore', status: 'ok' });
      expect((await backups.list()).map((e) => e.reason)).toEqual(['pre-restore', 'manual']);

      tick();
      await backups.restore({ name: preRestoreBackup!.name });
      expect(await contents()).toEqual(['old', 'new']);
    });

    it('should restore a file from outside the backups folder, e.g. an upload', async () => {
      const conversation = await ctx.newConversation();
      await ctx.say(conversation.id, 'from elsewhere');
      const backups = service();
      const upload = path.join(scratch, 'upload.sqlite');
      copyFileSync(backups.pathOf((await backups.backupNow('manual')).name), upload);
      tick();
      await ctx.say(conversation.id, 'to be replaced');

      await backups.restore({ file: upload });
      expect(await contents()).toEqual(['from elsewhere']);
      expect(existsSync(upload)).toBe(true);
    });

    it('should recover into an empty database on a fresh install, without a pre-restore backup', async () => {
      const conversation = await ctx.newConversation();
      await ctx.say(conversation.id, 'survived the disk');
      const upload = path.join(scratch, 'saved.sqlite');
      copyFileSync(service().pathOf((await service().backupNow('manual')).name), upload);
      const freshDir = path.join(scratch, 'fresh');
      const fresh = openDatabase(path.join(freshDir, 'threadloom.db'));
      try {
        const report = await new BackupService({ database: fresh, dataDir: freshDir, config: CONFIG, log: silentLogger, now: () => clock }).restore({ file: upload });
        expect(report.preRestoreBackup).toBeNull();
        expect((await fresh.db.selectFrom('messages').select('content').execute()).map((r) => r.content)).toEqual(['survived the disk']);
      } finally {
        await fresh.close();
      }
    });

    it('should wait for a write transaction on the live database to end, then restore', async () => {
      const conversation = await ctx.newConversation();
      await ctx.say(conversation.id, 'old');
      const backups = service();
      const old = await backups.backupNow('manual');
      tick();
      await ctx.say(conversation.id, 'new');
      const writer = new SQLite(ctx.database.file);
      writer.exec('begin immediate');
      writer.prepare("update messages set content = 'written while the restore waited'").run();

      await backups.restore({ name: old.name }, (p) => {
        if (p.phase === 'restoring' && p.pagesTotal === 0) setTimeout(() => writer.exec('commit'), 200);
      });
      writer.close();

      expect(await contents()).toEqual(['old']);
    });

    it('should give up, changing nothing, when the live database stays locked', async () => {
      const conversation = await ctx.newConversation();
      await ctx.say(conversation.id, 'old');
      const old = await service().backupNow('manual');
      tick();
      await ctx.say(conversation.id, 'new');
      const writer = new SQLite(ctx.database.file);
      writer.exec('begin immediate');

      await expect(restoreDatabase(ctx.database, path.join(ctx.database.dir, 'backups'), service().pathOf(old.name), { now: clock, lockWaitMs: 100 })).rejects.toThrow(
        'the live database stayed locked by a writer for 100 ms; nothing was restored',
      );
      writer.exec('rollback');
      writer.close();
      expect(await contents()).toEqual(['old', 'new']);
    });

    it('should refuse a file that is not a database, leaving the live database as it was', async () => {
      const conversation = await ctx.newConversation();
      await ctx.say(conversation.id, 'precious');
      const upload = path.join(scratch, 'notes.sqlite');
      writeFileSync(upload, 'these are my notes, not a database\n'.repeat(100));
      const backups = service();

      await expect(backups.restore({ file: upload })).rejects.toThrow(`cannot restore from ${upload}: not an SQLite database; the live database was not changed`);
      await expect(backups.restore({ file: path.join(scratch, 'missing.sqlite') })).rejects.toThrow('no such file');

      expect(await contents()).toEqual(['precious']);
      expect(await backups.list()).toEqual([]); // refused before the pre-restore backup
      expect(readdirSync(backups.dir)).toEqual([]); // and no staging file left behind
      expect(restoredHooks).toBe(0);
    });

    it('should refuse an SQLite file that is not a Threadloom database', async () => {
      const other = path.join(scratch, 'other-app.sqlite');
      const sqlite = new SQLite(other);
      sqlite.exec('create table recipes (name text)');
      sqlite.close();
      const migratedButNoMessages = path.join(scratch, 'half.sqlite');
      const half = new SQLite(migratedButNoMessages);
      half.exec('create table kysely_migration (name varchar(255) primary key, timestamp varchar(255) not null)');
      half.close();

      await expect(service().restore({ file: other })).rejects.toThrow('not a Threadloom database: it has no migrations table');
      await expect(service().restore({ file: migratedButNoMessages })).rejects.toThrow('not a Threadloom database: it has no messages table');
    });

    it('should refuse a damaged backup with the integrity problem', async () => {
      await fill(150);
      const backups = service();
      const damaged = path.join(scratch, 'damaged.sqlite');
      copyFileSync(backups.pathOf((await backups.backupNow('manual')).name), damaged);
      const middle = Math.floor(statSync(damaged).size / 4096 / 2) * 4096;
      const fd = openSync(damaged, 'r+');
      writeSync(fd, Buffer.alloc(4096, 0xff), 0, 4096, middle);
      closeSync(fd);
      tick();
      await ctx.newConversation();

      await expect(backups.restore({ file: damaged })).rejects.toThrow(/cannot restore from .*: integrity check failed: /);
      expect(await ctx.db.selectFrom('conversations').select('id').execute()).toHaveLength(2);
    });

    it('should refuse a backup made by a newer Threadloom', async () => {
      const conversation = await ctx.newConversation();
      await ctx.say(conversation.id, 'today');
      const backups = service();
      const file = backups.pathOf((await backups.backupNow('manual')).name);
      const future = new SQLite(file);
      future.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run('2099-01-01T0000_from_the_future', '2099-01-01T00:00:00.000Z');
      future.close();
      tick();
      await ctx.say(conversation.id, 'still here');

      await expect(backups.restore({ file })).rejects.toThrow('this backup was made by a newer Threadloom (it has migration 2099-01-01T0000_from_the_future');
      expect(await contents()).toEqual(['today', 'still here']);
    });

    it('should apply the migrations an older backup lacks', async () => {
      const conversation = await ctx.newConversation();
      await ctx.say(conversation.id, 'from an older version');
      const older = await service().backupNow('manual');
      // this "version" ships one more migration than the backup has
      const migrations = path.join(scratch, 'migrations');
      copyMigrations(migrations);
      writeFileSync(path.join(migrations, '2099-01-01T0000_bookmarks.mjs'), `export async function up(db) { await db.schema.createTable('bookmarks').addColumn('id', 'integer').execute(); }`);
      tick();

      const report = await service({ migrationsDir: migrations }).restore({ name: older.name });

      expect(report.appliedMigrations).toEqual(['2099-01-01T0000_bookmarks']);
      expect(await contents()).toEqual(['from an older version']);
      expect(await ctx.db.selectFrom('bookmarks' as never).selectAll().execute()).toEqual([]);
    });

    it('should restore a database whose page size differs from the live one', async () => {
      const small = path.join(scratch, 'small-pages.sqlite');
      copyFileSync(service().pathOf((await service().backupNow('manual')).name), small);
      const sqlite = new SQLite(small);
      sqlite.pragma('page_size = 1024');
      sqlite.exec('VACUUM');
      expect(sqlite.pragma('page_size', { simple: true })).toBe(1024);
      sqlite.close();
      tick();
      await ctx.newConversation();

      await service().restore({ file: small });
      expect(await ctx.db.selectFrom('conversations').select('id').execute()).toHaveLength(0);
      expect(ctx.database.sqlite.pragma('page_size', { simple: true })).toBe(4096);
    });
  });

  describe('retention and the schedule', () => {
    onSqliteFile.it('should run nightly backups and keep only what the policy keeps, with their sidecars', async () => {
      const backups = service();
      clock = new Date('2026-10-01T10:00:00Z');
      const manual = await backups.backupNow('manual');
      for (let day = 1; day <= 30; day++) {
        clock = new Date(Date.UTC(2026, 10, day, 3));
        expect((await backups.runScheduled()).status).toBe('ok');
      }

      const names = (await backups.list()).map((e) => e.name);
      // Monday 11-30: 7 days (11-24…11-30), the newest of the weeks before (Sundays 11-29, 11-22, 11-15), the manual one
      expect(names).toEqual([
        ...[30, 29, 28, 27, 26, 25, 24, 22, 15].map((day) => `threadloom-202611${String(day).padStart(2, '0')}-030000-scheduled.sqlite`),
        manual.name,
      ]);
      expect(readdirSync(backups.dir).filter((f) => f.endsWith('.json'))).toHaveLength(names.length);
    });

    onSqliteFile.it('should be switched off by config and refuse a bad cron expression', async () => {
      await expect(service({ config: { ...CONFIG, enabled: false } }).startSchedule()()).resolves.toBeUndefined();
      expect(() => service({ config: { ...CONFIG, schedule: 'every night' } }).startSchedule()).toThrow('backups.schedule: "every night" is not a cron expression');
      const stop = service().startSchedule();
      await stop();
    });

    it('should read the schedule from THREADLOOM_BACKUP_SCHEDULE and check it at start', () => {
      expect(loadConfig({ THREADLOOM_CONFIG: undefined }).backups).toEqual(CONFIG);
      expect(loadConfig({ THREADLOOM_CONFIG: undefined, THREADLOOM_BACKUP_SCHEDULE: '30 4 * * 0' }).backups.schedule).toBe('30 4 * * 0');
      expect(() => loadConfig({ THREADLOOM_CONFIG: undefined, THREADLOOM_BACKUP_SCHEDULE: '61 3 * * *' })).toThrow(/backups\.schedule.*not a cron expression/);
    });
  });
});
