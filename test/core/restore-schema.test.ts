import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupService, type BackupsConfig } from '../../src/core/backups/service.js';
import { silentLogger } from '../../src/core/log.js';
import { SearchStore } from '../../src/core/search/store.js';
import { TestContext } from '../support/db.js';
import { BACKUPS_COPY_THE_SQLITE_FILE, sqliteOnly } from '../support/postgres.js';

const CONFIG: BackupsConfig = { schedule: '0 3 * * *', keepDaily: 7, keepWeekly: 4, enabled: true };

let ctx: TestContext;
let scratch: string;
let clock: Date;

beforeEach(async () => {
  ctx = await TestContext.create();
  scratch = mkdtempSync(path.join(tmpdir(), 'threadloom-restore-schema-'));
  clock = new Date('2026-11-25T03:00:00Z');
});

afterEach(async () => {
  await ctx.close();
  rmSync(scratch, { recursive: true, force: true });
});

function service(): BackupService {
  return new BackupService({ database: ctx.database, dataDir: ctx.database.dir, config: CONFIG, log: silentLogger, now: () => clock });
}

/** A copy of the live database, made by a real backup, that the test may then tamper with. */
async function copyOfLive(name: string, tamper: (sqlite: SQLite.Database) => void): Promise<string> {
  const backups = service();
  const file = path.join(scratch, name);
  copyFileSync(backups.pathOf((await backups.backupNow('manual')).name), file);
  for (const made of await backups.list()) rmSync(path.join(backups.dir, made.name));
  rmSync(backups.dir, { recursive: true, force: true });
  clock = new Date(clock.getTime() + 1000);
  const sqlite = new SQLite(file);
  sqliteVec.load(sqlite);
  try {
    tamper(sqlite);
  } finally {
    sqlite.close();
  }
  return file;
}

/** Restoring `file` is refused with `message`, and the live database, byte for byte, and the backups folder are as they were. */
async function expectRefused(file: string, message: string | RegExp): Promise<string> {
  const before = ctx.database.sqlite.serialize();
  const error = await service().restore({ file }).then(
    () => null,
    (err: Error & { userMessage?: string }) => err,
  );
  expect(error?.message).toMatch(message);
  expect(error?.message).toContain('the live database was not changed');
  expect(ctx.database.sqlite.serialize().equals(before)).toBe(true);
  expect(await service().list()).toEqual([]);
  expect(readdirSync(service().dir)).toEqual([]);
  return error!.userMessage!;
}

sqliteOnly(BACKUPS_COPY_THE_SQLITE_FILE).describe('BackupService restore checks the schema', () => {
  it('should refuse a file with the migration names but not the tables they make', async () => {
    const conversation = await ctx.newConversation();
    await ctx.say(conversation.id, 'precious');
    const migrations = ctx.database.sqlite.prepare('select name, timestamp from kysely_migration').all() as Array<{ name: string; timestamp: string }>;
    const fake = path.join(scratch, 'fake.sqlite');
    const sqlite = new SQLite(fake);
    sqlite.exec('create table kysely_migration (name varchar(255) not null primary key, timestamp varchar(255) not null)');
    sqlite.exec('create table kysely_migration_lock (id varchar(255) not null primary key, is_locked integer not null default 0)');
    for (const m of migrations) sqlite.prepare('insert into kysely_migration values (?, ?)').run(m.name, m.timestamp);
    sqlite.exec('create table messages (id integer primary key)');
    sqlite.close();

    const userMessage = await expectRefused(fake, /its schema is not what this version of Threadloom expects: it lacks table \w+, .*table audit_log/);
    expect(userMessage).toMatch(/^Cannot restore from fake\.sqlite: .*Nothing was changed\.$/);
  });

  it('should refuse a trigger the migrations do not make, naming it', async () => {
    const file = await copyOfLive('trigger.sqlite', (sqlite) => {
      sqlite.exec('create trigger unrevoke_tokens after insert on messages begin update api_tokens set revoked_at = null; end');
      sqlite.exec('create view token_list as select name from api_tokens');
    });
    await expectRefused(file, /it has trigger unrevoke_tokens \(on messages\), view token_list, which this version's migrations do not create/);
  });

  it('should refuse a trigger of ours whose body was changed', async () => {
    const file = await copyOfLive('changed.sqlite', (sqlite) => {
      sqlite.exec('drop trigger messages_search_insert');
      sqlite.exec('create trigger messages_search_insert after insert on messages begin update api_tokens set revoked_at = null; end');
    });
    await expectRefused(file, /trigger messages_search_insert differs from what this version's migrations create/);
  });

  it('should refuse a column missing from a table', async () => {
    const file = await copyOfLive('column.sqlite', (sqlite) => sqlite.exec('alter table api_tokens drop column last_used_at'));
    await expectRefused(file, /table api_tokens differs/);
  });

  it('should refuse a virtual table whose module this Threadloom does not have, before the swap', async () => {
    const file = await copyOfLive('module.sqlite', (sqlite) => {
      // a module only this connection has: the file keeps the table, nothing else can open it
      sqlite.table('nosuchmodule', (() => ({ columns: ['a'], *rows() {} })) as unknown as Parameters<typeof sqlite.table>[1]);
      sqlite.exec('CREATE VIRTUAL TABLE x USING nosuchmodule');
    });
    const userMessage = await expectRefused(file, /it has virtual tables this Threadloom cannot open: x \(no such module: nosuchmodule\)/);
    expect(userMessage).toContain('Cannot restore from module.sqlite');
  });

  it('should restore a backup that holds the search vectors Threadloom makes at run time', async () => {
    const conversation = await ctx.newConversation();
    await ctx.say(conversation.id, 'indexed');
    const store = new SearchStore(ctx.database.sqlite);
    store.reset('test-model');
    store.ensureVectors(16);
    const backups = service();
    const backup = await backups.backupNow('manual');
    clock = new Date(clock.getTime() + 1000);
    await ctx.say(conversation.id, 'after');

    await backups.restore({ name: backup.name });
    expect((await ctx.db.selectFrom('messages').select('content').execute()).map((m) => m.content)).toEqual(['indexed']);
    expect(store.hasVectorTable()).toBe(true);
  });

  it('should name an upload by the name it was given, not where it was staged', async () => {
    const staged = path.join(scratch, '.upload-123-abc.partial');
    const file = await copyOfLive('x.sqlite', (sqlite) => sqlite.exec('create view extra as select 1'));
    copyFileSync(file, staged);
    const error = (await service()
      .restore({ file: staged, label: 'the uploaded my-copy.sqlite' })
      .catch((err: unknown) => err)) as Error & { userMessage: string };
    expect(error.userMessage).toMatch(/^Cannot restore from the uploaded my-copy\.sqlite: /);
    expect(error.message).not.toContain('.upload-');
    expect(error.userMessage).not.toContain('.upload-');
  });
});
