import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkPgDump } from '../../src/core/backups/pg-dump.js';
import { BackupService, SCHEDULE_LEASE, type BackupServiceOptions, type BackupsConfig } from '../../src/core/backups/service.js';
import { openPostgres } from '../../src/core/db/postgres.js';
import { runDoctor } from '../../src/core/doctor.js';
import type { Logger } from '../../src/core/log.js';
import { silentLogger } from '../../src/core/log.js';
import { TestContext } from '../support/db.js';
import { PG_DUMP_WRAPPER, pgRestore, pgToolsPresent, withoutPassword } from '../support/pg-tools.js';
import { TEST_POSTGRES_URL, freshPostgresDatabase } from '../support/postgres.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

const CONFIG: BackupsConfig = { schedule: '0 3 * * *', keepDaily: 7, keepWeekly: 4, enabled: true, pgDump: PG_DUMP_WRAPPER };
const DUMP_NAME = /^threadloom-\d{8}-\d{6}-(manual|scheduled)(-\d+)?\.pgdump$/;

let ctx: TestContext;
let url: string;
let clock = new Date('2026-12-03T03:00:00Z');

function service(overrides: Partial<BackupServiceOptions> = {}): BackupService {
  return new BackupService({
    database: ctx.database,
    dataDir: mkdtempSync(path.join(tmpdir(), 'threadloom-pgbackup-')),
    config: CONFIG,
    log: silentLogger,
    now: () => clock,
    databaseUrl: url,
    ...overrides,
  });
}

function recordingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

describe.skipIf(!TEST_POSTGRES_URL || !pgToolsPresent())('backups on PostgreSQL', () => {
  beforeAll(async () => {
    ctx = await TestContext.create();
    url = ctx.database.url!;
  });

  afterAll(async () => {
    await ctx?.close();
  });

  afterEach(() => {
    clock = new Date('2026-12-03T03:00:00Z');
  });

  describe('backup', () => {
    it('should pg_dump the database into a .pgdump that pg_restore reads and restores, holding what was stored', async () => {
      const conversation = await ctx.newConversation();
      await ctx.say(conversation.id, 'the pg_dump backup keeps this sentence');
      const backups = service();
      const entry = await backups.backupNow('manual');
      expect(entry.name).toMatch(DUMP_NAME);
      expect(entry.status).toBe('ok');
      expect(entry.madeBy).toMatch(/^pg_dump 18\.\d+ of PostgreSQL 18\.\d+$/);
      expect(entry.schemaVersion).toMatch(/^\d{4}/);
      // no partial left beside it, only the archive and its record
      expect(readdirSync(backups.dir).sort()).toEqual([entry.name, `${entry.name}.json`]);
      expect((await backups.list()).map((e) => e.name)).toEqual([entry.name]);

      const file = backups.pathOf(entry.name);
      const listing = await pgRestore(['--list'], file);
      expect(listing.code).toBe(0);
      expect(listing.stdout).toContain('Format: CUSTOM');
      expect(listing.stdout).toMatch(/TABLE DATA public messages /);

      // the restore the page and the CLI tell, into an empty database
      const target = await freshPostgresDatabase(TEST_POSTGRES_URL!);
      const other = openPostgres(target.url);
      try {
        const { url: dbname, password } = withoutPassword(target.url);
        const restored = await pgRestore(['--clean', '--if-exists', `--dbname=${dbname}`], file, password);
        // pgvector came from template1, installed by the superuser: pg_restore, connected as the
        // database's owner, may neither drop nor comment on it, says so, and carries on (the docs say so too)
        const errors = restored.stderr.split('\n').filter((line) => line.startsWith('pg_restore: error:'));
        expect(errors.every((line) => line.endsWith('must be owner of extension vector'))).toBe(true);
        expect(restored.code).toBe(errors.length ? 1 : 0);
        const rows = await other.db.selectFrom('messages').select('content').execute();
        expect(rows.map((r) => r.content)).toContain('the pg_dump backup keeps this sentence');
      } finally {
        await other.close();
        await target.drop();
      }
    });

    it('should give the password to pg_dump in its environment, never on its command line', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-pgdump-spy-'));
      const spy = path.join(dir, 'pg_dump');
      // a pg_dump in front of the real one that writes down what it was given
      writeFileSync(spy, `#!/usr/bin/env bash\nprintf '%s\\n' "$@" > ${dir}/argv\nprintf '%s' "$PGPASSWORD" > ${dir}/password\nexec ${PG_DUMP_WRAPPER} "$@"\n`);
      chmodSync(spy, 0o755);
      const backups = service({ config: { ...CONFIG, pgDump: spy } });
      const entry = await backups.backupNow('manual');
      expect(entry.status).toBe('ok');
      const { password } = withoutPassword(url);
      expect(password).toBeTruthy();
      const argv = readFileSync(path.join(dir, 'argv'), 'utf8');
      expect(argv).not.toContain(password!);
      expect(argv).toContain('--format=custom');
      expect(argv).toContain(`--dbname=${withoutPassword(url).url}`);
      expect(readFileSync(path.join(dir, 'password'), 'utf8')).toBe(password);
    });

    it('should leave nothing in the folder when pg_dump fails, and say why without the password', async () => {
      const wrong = new URL(url);
      wrong.password = 'not-the-password-4711';
      const backups = service({ databaseUrl: wrong.toString() });
      const failure = await backups.backupNow('manual').then(
        () => null,
        (err: Error & { userMessage?: string }) => err,
      );
      expect(failure?.message).toMatch(/^backup failed, nothing was written: pg_dump exited with 1: .*password authentication failed/);
      expect(failure?.message).not.toContain('not-the-password-4711');
      expect(failure?.userMessage).toMatch(/^The backup failed: pg_dump exited with 1/);
      expect(existsSync(backups.dir) ? readdirSync(backups.dir) : []).toEqual([]);
      expect(await backups.list()).toEqual([]);
    });

    it('should refuse at once and say what to install when pg_dump is missing', async () => {
      const backups = service({ config: { ...CONFIG, pgDump: '/nonexistent/pg_dump' } });
      await expect(backups.backupNow('manual')).rejects.toThrow(
        'backup refused: pg_dump not found at /nonexistent/pg_dump (backups.pgDump / THREADLOOM_PG_DUMP): install postgresql-client-18, or point backups.pgDump / THREADLOOM_PG_DUMP at its pg_dump',
      );
      const empty = mkdtempSync(path.join(tmpdir(), 'threadloom-no-path-'));
      const check = await checkPgDump(ctx.db, undefined, { PATH: empty });
      expect(check).toMatchObject({ ok: false, message: 'pg_dump is not installed (not on PATH): install postgresql-client-18, or set THREADLOOM_PG_DUMP to its path' });
    });

    it('should say when the schedule starts, and at each firing, that this instance cannot back up', async () => {
      const log = recordingLog();
      const backups = service({ config: { ...CONFIG, pgDump: '/nonexistent/pg_dump' }, log });
      const stop = backups.startSchedule();
      for (let i = 0; i < 50 && !log.lines.some((l) => l.startsWith('warn')); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      await stop();
      expect(log.lines).toContain('warn scheduled backups cannot run on this instance: pg_dump not found at /nonexistent/pg_dump (backups.pgDump / THREADLOOM_PG_DUMP): install postgresql-client-18, or point backups.pgDump / THREADLOOM_PG_DUMP at its pg_dump');
      expect(await backups.runScheduledSlot({ due: new Date('2026-12-03T03:00:00Z'), next: null })).toBeNull();
      expect(log.lines.at(-1)).toMatch(/^error scheduled backup due 2026-12-03T03:00:00.000Z not taken here: pg_dump not found at \/nonexistent\/pg_dump/);
    });

    // this machine's Debian ships pg_dump 15: the real refusal of an older pg_dump
    const systemPgDump = '/usr/lib/postgresql/15/bin/pg_dump';
    it.skipIf(!existsSync(systemPgDump))('should say which pg_dump is too old for the server and what to install', async () => {
      const check = await checkPgDump(ctx.db, systemPgDump);
      expect(check).toEqual({
        ok: false,
        path: systemPgDump,
        version: expect.stringMatching(/^15\.\d+$/),
        message: `pg_dump 15 cannot dump PostgreSQL 18 (${systemPgDump}): install postgresql-client-18, or set THREADLOOM_PG_DUMP to a pg_dump 18 or newer`,
      });
      await expect(service({ config: { ...CONFIG, pgDump: systemPgDump } }).backupNow('manual')).rejects.toThrow('pg_dump 15 cannot dump PostgreSQL 18');
      expect(await checkPgDump(ctx.db, PG_DUMP_WRAPPER)).toMatchObject({ ok: true, major: 18, serverMajor: 18 });
    });
  });

  describe('restore', () => {
    it('should refuse a restore from the app and give the pg_restore command instead, without the password', async () => {
      const backups = service();
      const entry = await backups.backupNow('manual');
      const refusal = await backups.restore({ name: entry.name }).then(
        () => null,
        (err: Error & { userMessage?: string }) => err,
      );
      const { url: dbname, password } = withoutPassword(url);
      expect(refusal?.userMessage).toBe(
        `On PostgreSQL a backup is restored with pg_restore: stop every Threadloom instance, then run pg_restore --clean --if-exists --dbname='${dbname}' ${path.join(backups.dir, entry.name)}, then start them again.`,
      );
      expect(refusal?.message).not.toContain(password!);
      await expect(backups.restore({ file: '/tmp/some.sqlite' })).rejects.toThrow('restore on PostgreSQL is done with pg_restore');
      expect(() => backups.pathOf(entry.name.replace('.pgdump', '.sqlite'))).toThrow('not a backup name');
    });
  });

  describe('retention', () => {
    it('should keep the newest scheduled dump of each of keepDaily days, and every manual one', async () => {
      const backups = service({ config: { ...CONFIG, keepDaily: 3, keepWeekly: 0 } });
      clock = new Date('2026-12-01T12:00:00Z');
      const manual = await backups.backupNow('manual');
      const scheduled: string[] = [];
      for (let day = 1; day <= 5; day++) {
        clock = new Date(`2026-12-0${day}T03:00:00Z`);
        scheduled.push((await backups.runScheduled()).name);
      }
      const kept = (await backups.list()).map((e) => e.name);
      expect(kept).toEqual([scheduled[4], scheduled[3], scheduled[2], manual.name]);
      expect(readdirSync(backups.dir).filter((f) => f.endsWith('.pgdump')).sort()).toEqual([...kept].sort());
    });
  });
});

describe.skipIf(!TEST_POSTGRES_URL || !pgToolsPresent())('the backup schedule on PostgreSQL', () => {
  let first: TestRuntime;
  let second: TestRuntime;

  /** A BackupService as serve.ts makes it for a runtime. */
  function backupsOf(rt: TestRuntime, log: Logger, schedule = CONFIG.schedule): BackupService {
    const config = rt.deps.config;
    return new BackupService({ database: rt.database, dataDir: rt.dir, config: { ...config.backups, pgDump: PG_DUMP_WRAPPER, schedule }, log, databaseUrl: config.database.url, instance: rt.instance });
  }

  function dumpsIn(rt: TestRuntime): string[] {
    const dir = path.join(rt.dir, 'backups');
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.pgdump')) : [];
  }

  beforeAll(async () => {
    first = await startTestRuntime();
    // a second instance on the first one's database, with its own data dir
    second = await startTestRuntime({ config: (c) => ({ ...c, database: { ...c.database, url: first.deps.config.database.url } }) });
  });

  afterAll(async () => {
    await second?.shutdown();
    await first?.shutdown();
  });

  it('should run on two instances on one database and make one backup per slot', async () => {
    expect(first.instance).not.toBe(second.instance);
    const slot = { due: new Date(), next: new Date(Date.now() + 86_400_000) };
    const [a, b] = await Promise.all([backupsOf(first, silentLogger).runScheduledSlot(slot), backupsOf(second, silentLogger).runScheduledSlot(slot)]);
    expect([a, b].filter((entry) => entry !== null)).toHaveLength(1);
    expect(dumpsIn(first).length + dumpsIn(second).length).toBe(1);
    // the slot stays taken after the backup, for the other instance whose timer fires late
    const late = await backupsOf(a ? second : first, silentLogger).runScheduledSlot(slot);
    expect(late).toBeNull();
    const { rows } = await sql<{ holder: string }>`SELECT holder FROM leases WHERE name = ${SCHEDULE_LEASE}`.execute(first.database.db);
    expect(rows.map((r) => r.holder)).toEqual([a ? first.instance : second.instance]);
    await first.database.db.deleteFrom('leases').where('name', '=', SCHEDULE_LEASE).execute();
  });

  it('should, with both schedules firing at the same second, make exactly one backup and say where it was taken', async () => {
    // retention would fold the previous test's backup of today into this one
    for (const rt of [first, second]) rmSync(path.join(rt.dir, 'backups'), { recursive: true, force: true });
    // a cron with seconds, due once, 3 seconds from now (both timers fire at that second)
    const at = new Date(Date.now() + 3000);
    const cron = `${at.getSeconds()} ${at.getMinutes()} ${at.getHours()} * * *`;
    const logs = [recordingLog(), recordingLog()];
    const stops = [backupsOf(first, logs[0]!, cron).startSchedule(), backupsOf(second, logs[1]!, cron).startSchedule()];
    const deadline = Date.now() + 20_000;
    const written = (): string[] => logs.flatMap((l) => l.lines).filter((line) => /^info backup threadloom-.*\.pgdump written and verified/.test(line));
    const skipped = (): string[] => logs.flatMap((l) => l.lines).filter((line) => line.includes('taken by another instance'));
    while (Date.now() < deadline && (written().length < 1 || skipped().length < 1)) await new Promise((resolve) => setTimeout(resolve, 100));
    await Promise.all(stops.map((stop) => stop()));
    expect(written()).toHaveLength(1);
    expect(skipped()).toHaveLength(1);
    expect(dumpsIn(first).length + dumpsIn(second).length).toBe(1);
    expect(logs.flatMap((l) => l.lines).filter((line) => line.startsWith('error'))).toEqual([]);
  }, 30_000);
});

const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** `threadloom <args>` in its own process with only the given environment. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'src/cli.ts'), ...args], {
    cwd: mkdtempSync(path.join(tmpdir(), 'threadloom-cwd-')),
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', OLLAMA_HOST: 'http://127.0.0.1:9', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describe.skipIf(!TEST_POSTGRES_URL || !pgToolsPresent())('threadloom backup, restore and doctor on PostgreSQL', () => {
  let database: { url: string; drop(): Promise<void> };
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await freshPostgresDatabase(TEST_POSTGRES_URL!);
    env = { THREADLOOM_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'threadloom-cli-pg-')), THREADLOOM_DATABASE_URL: database.url, THREADLOOM_PG_DUMP: PG_DUMP_WRAPPER };
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('should back up with pg_dump and print how to restore, never the password', async () => {
    const run = await cli(['backup'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const name = /written: (threadloom-\d{8}-\d{6}-manual\.pgdump) \(\d+ bytes\)/.exec(run.stdout)?.[1];
    expect(name).toBeDefined();
    expect(run.stdout).toMatch(/with \S+pg_dump\.sh \(pg_dump 18\.\d+, PostgreSQL 18\.\d+\)/);
    const { url: dbname, password } = withoutPassword(database.url);
    const file = path.join(env.THREADLOOM_DATA_DIR!, 'backups', name!);
    expect(run.stdout).toContain(`to restore it, stop every Threadloom instance and run: pg_restore --clean --if-exists --dbname='${dbname}' ${file}`);
    expect(run.stdout).not.toContain(password!);
    expect(readFileSync(file).subarray(0, 5).toString()).toBe('PGDMP');

    const restore = await cli(['restore', name!], env);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain(`restore on PostgreSQL is done with pg_restore: stop every Threadloom instance, then run pg_restore --clean --if-exists --dbname='${dbname}' ${file}`);
  }, 60_000);

  it('should say that pg_dump is missing and what to install; the doctor says which pg_dump backups use', async () => {
    const missing = { ...env, THREADLOOM_PG_DUMP: '/nonexistent/pg_dump' };
    const run = await cli(['backup'], missing);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'threadloom backup: pg_dump not found at /nonexistent/pg_dump (backups.pgDump / THREADLOOM_PG_DUMP): install postgresql-client-18, or point backups.pgDump / THREADLOOM_PG_DUMP at its pg_dump\n',
    );
    const doctor = async (vars: Record<string, string>): Promise<string | undefined> => {
      const lines: string[] = [];
      await runDoctor({ OLLAMA_HOST: 'http://127.0.0.1:9', ...vars }, (line) => lines.push(line));
      return lines.find((line) => /^\S+ +backups /.test(line));
    };
    expect(await doctor(missing)).toMatch(/^warn backups +pg_dump not found at \/nonexistent\/pg_dump .*install postgresql-client-18.*; until then backups fail$/);
    expect(await doctor(env)).toMatch(new RegExp(`^ok   backups +pg_dump 18\\.\\d+ at ${PG_DUMP_WRAPPER.replace(/[.]/g, '\\.')} \\(dumps PostgreSQL 18\\.\\d+\\)$`));
  }, 60_000);
});
