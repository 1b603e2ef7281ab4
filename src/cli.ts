import { createWriteStream, existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CONSOLE_PLATFORM, consoleChannelId, createConsoleAdapter, type ResumedConversation } from './bots/console/index.js';
import { parseBackupName } from './core/backups/names.js';
import { BackupService } from './core/backups/service.js';
import { loadConfig, type Config } from './core/config.js';
import { writeFullExport } from './core/conversations/export-all.js';
import { runDoctor } from './core/doctor.js';
import { databaseFile, openDatabase, openDatabaseFor } from './core/db/open.js';
import { openPostgres } from './core/db/postgres.js';
import type { OpenedPostgresDatabase } from './core/db/opened.js';
import { lockDataDir } from './core/data-dir-lock.js';
import { moveToPostgres } from './core/move/to-postgres.js';
import { migrateToLatest, pendingMigrations } from './core/db/migrate.js';
import { ThreadloomError } from './core/errors.js';
import { Leases } from './core/instances/leases.js';
import { DatabasePlatformState, platformLease } from './core/instances/platform-state.js';
import { loadSecretBox } from './core/secrets.js';
import { startAdapter, startRuntime } from './core/runtime.js';
import type { Logger } from './core/log.js';

const USAGE = `usage: threadloom <command>
  chat [--experience <slug>] [--new] [--out <dir>]
                               chat in the terminal with an Experience (default: general); --new
                               starts a fresh conversation instead of resuming; /export writes
                               into --out (default: <dataDir>/exports)
  doctor                       check config, database, migrations and providers
  migrate                      apply pending database migrations
  backup                       back up the database now (into <dataDir>/backups) and verify the copy;
                               on PostgreSQL with pg_dump (THREADLOOM_PG_DUMP, else pg_dump on PATH)
  restore <file-or-name>       restore a backup (a name from <dataDir>/backups or a file path); on
                               PostgreSQL it says the pg_restore command to run instead
  export [--out <file>]        every Experience and conversation (all branches) as JSON, to stdout or a file
  migrate-to-postgres <url>    copy this installation's SQLite database into an empty PostgreSQL
                               database and check the copy; the SQLite file is left as it was`;

/** In a terminal chat only warnings and errors are logged, on stderr, so answers stay readable. */
const quietLogger: Logger = {
  info() {},
  warn: (m) => process.stderr.write(`warning: ${m}\n`),
  error: (m, f) => process.stderr.write(`error: ${m}${f ? ` ${JSON.stringify(f)}` : ''}\n`),
};

const CHAT_USAGE = 'usage: threadloom chat [--experience <slug>] [--new] [--out <dir>]';

function chatArgs(args: string[]): { experience: string; fresh: boolean; out: string | undefined } | null {
  try {
    const { values } = parseArgs({
      args,
      options: { experience: { type: 'string', short: 'e', default: 'general' }, new: { type: 'boolean', default: false }, out: { type: 'string', short: 'o' } },
    });
    return { experience: values.experience!, fresh: values.new!, out: values.out };
  } catch (err) {
    // parseArgs explains in its first sentence ("Unknown option '--model'"); the rest is about positionals
    const reason = err instanceof Error ? err.message.split('. ')[0]!.replace(/\.$/, '') : String(err);
    console.error(`threadloom chat: ${reason}. ${CHAT_USAGE}`);
    return null;
  }
}

/** The conversation a chat in this place would continue; with `fresh`, it is archived (as `/new` does) instead. */
async function resumable(runtime: Awaited<ReturnType<typeof startRuntime>>, experience: string, fresh: boolean): Promise<ResumedConversation | undefined> {
  const { conversations } = runtime.deps;
  const active = await conversations.findActive({ platform: CONSOLE_PLATFORM, channelId: consoleChannelId(experience), threadId: null });
  if (!active) return undefined;
  if (fresh) {
    await conversations.archive(active.id);
    return undefined;
  }
  return { title: active.title, messages: (await conversations.path(active)).length, modelOverride: active.model_override };
}

async function chat(args: string[]): Promise<number> {
  const values = chatArgs(args);
  if (!values) return 2;
  const config = loadConfig();
  const runtime = await startRuntime(config, { log: quietLogger });
  try {
    const slugs = await runtime.engine.suggestions('experience');
    if (!slugs.includes(values.experience)) {
      console.error(`threadloom chat: no Experience "${values.experience}"; choose one of: ${[...slugs].sort().join(', ')}`);
      return 2;
    }
    const adapter = createConsoleAdapter({
      engine: runtime.engine,
      experienceSlug: values.experience,
      exportDir: values.out ?? path.join(config.dataDir, 'exports'),
      resumed: await resumable(runtime, values.experience, values.fresh),
    });
    await startAdapter(runtime.engine, adapter);
    await adapter.done;
    runtime.engine.removeDirectory(adapter.platform);
  } finally {
    await runtime.close();
  }
  return 0;
}

async function migrate(): Promise<number> {
  const config = loadConfig();
  const database = openDatabaseFor(config);
  try {
    const { applied } = await migrateToLatest(database.db);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
    return 0;
  } finally {
    await database.close();
  }
}

/** The database of the configured data dir with a BackupService over it; closed after `work`. */
async function withBackups(work: (backups: BackupService) => Promise<number>): Promise<number> {
  const config = loadConfig();
  const database = openDatabaseFor(config);
  try {
    return await work(new BackupService({ database, dataDir: config.dataDir, config: config.backups, log: quietLogger, databaseUrl: config.database.url }));
  } finally {
    await database.close();
  }
}

/** On PostgreSQL: pg_dump of the database, or why it cannot run here and what to install. */
async function pgBackup(backups: BackupService): Promise<number> {
  const tool = await backups.pgDump();
  if (!tool?.ok) {
    console.error(`threadloom backup: ${tool?.message ?? 'pg_dump is not available'}`);
    return 1;
  }
  console.log(`backing up into ${backups.dir} with ${tool.path} (pg_dump ${tool.version}, PostgreSQL ${tool.server})`);
  const entry = await backups.backupNow('manual');
  console.log(`written: ${entry.name} (${entry.sizeBytes} bytes)`);
  console.log(`to restore it, stop every Threadloom instance and run: ${backups.restoreCommand(path.join(backups.dir, entry.name))}`);
  return 0;
}

function backup(): Promise<number> {
  return withBackups(async (backups) => {
    if (backups.format === 'pgdump') return pgBackup(backups);
    console.log(`backing up into ${backups.dir}`);
    const entry = await backups.backupNow('manual');
    console.log(`written: ${entry.name} (${entry.sizeBytes} bytes)`);
    if (entry.status !== 'ok') {
      console.error(`verification failed: ${entry.message}`);
      return 1;
    }
    console.log(`verified: integrity ok, schema ${entry.schemaVersion ?? 'empty'}`);
    return 0;
  });
}

function restore(args: string[]): Promise<number> {
  const [source] = args;
  if (!source) {
    console.error('usage: threadloom restore <file-or-name>');
    return Promise.resolve(2);
  }
  return withBackups(async (backups) => {
    const phases = { checking: `checking ${source}`, 'pre-restore': 'backing up the current database first', restoring: 'restoring', migrating: 'applying migrations' };
    let phase = '';
    const isName = parseBackupName(source) !== null && existsSync(path.join(backups.dir, source));
    const report = await backups.restore(isName ? { name: source } : { file: source }, (p) => {
      if (p.phase !== phase) console.log(phases[(phase = p.phase)]);
    });
    const before = report.preRestoreBackup;
    if (!before) console.log('the database was empty, so there was nothing to back up first');
    else console.log(`the database before the restore is in ${before.name}${before.status === 'ok' ? '' : ` (it failed verification: ${before.message})`}`);
    console.log(report.appliedMigrations.length ? `applied: ${report.appliedMigrations.join(', ')}` : 'schema is up to date');
    console.log('restored; if Threadloom is running, restart it so it drops what it had cached');
    return 0;
  });
}

/**
 * SQLite → PostgreSQL, with Threadloom stopped (the data dir's lock is taken for the move). The
 * SQLite file is only read: until the URL is set, Threadloom goes on using it.
 */
async function migrateToPostgres(args: string[]): Promise<number> {
  const url = args[0] ?? process.env.THREADLOOM_DATABASE_URL;
  if (!url || !/^postgres(ql)?:\/\//.test(url)) {
    console.error('usage: threadloom migrate-to-postgres postgres://user:password@host:5432/database (an empty database)');
    return 2;
  }
  const config = loadConfig();
  const lock = lockDataDir(config.dataDir);
  const source = openDatabase(databaseFile(config.dataDir));
  const target = openPostgres(url);
  try {
    console.log(`moving ${source.file} to ${target.where}`);
    const report = await moveToPostgres(source, target, (line) => console.log(line));
    const rows = report.tables.reduce((sum, t) => sum + t.rows, 0);
    console.log(`moved ${rows} rows in ${report.tables.length} tables in ${(report.ms / 1000).toFixed(1)} s; checked: every count, ${report.check.rollups} usage rollups, ${report.check.sampled} sampled rows`);
    const matrix = await moveMatrix(config, target);
    if (matrix.length) console.log(`matrix: moved its ${matrix.join(', ')} into the database, so the instances go on as the same device (every instance needs this data dir's THREADLOOM_SECRET_KEY)`);
    console.log(`to use it, set THREADLOOM_DATABASE_URL (or database.url in the config file) and start Threadloom; ${source.file} stays as it was`);
    return 0;
  } finally {
    await target.close();
    await source.close();
    lock.release();
  }
}

/** The Matrix bot's session and crypto store, from the data dir into the database, under its lease for the moment. */
async function moveMatrix(config: Config, target: OpenedPostgresDatabase): Promise<string[]> {
  const { moveMatrixState } = await import('./bots/matrix/move.js');
  const mover = `migrate-to-postgres:${process.pid}`;
  const leases = new Leases(target.db, mover);
  const lease = platformLease('matrix');
  if (!(await leases.take(lease, 60_000))) throw new ThreadloomError('platform', 'an instance already holds Matrix on this database: stop it before moving');
  try {
    return await moveMatrixState(config.dataDir, new DatabasePlatformState(target.db, mover, lease, () => loadSecretBox(config.dataDir)), Boolean(config.matrix.storeKey));
  } finally {
    await leases.release(lease);
  }
}

/** JSON to stdout (pipe it anywhere) or to a file; the summary goes to stderr either way. */
async function exportAll(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string', short: 'o' } } });
  const config = loadConfig();
  const database = openDatabaseFor(config);
  const out = values.out ? createWriteStream(values.out) : process.stdout;
  const write = (chunk: string): Promise<void> | void => {
    if (out.write(chunk)) return;
    return new Promise((resolve) => out.once('drain', () => resolve()));
  };
  try {
    const pending = await pendingMigrations(database.db);
    if (pending.length) {
      console.error(`the database needs migrations first (${pending.join(', ')}): run \`threadloom migrate\``);
      return 1;
    }
    const counts = await writeFullExport(database.db, write, new Date());
    if (values.out) await new Promise<void>((resolve, reject) => (out as ReturnType<typeof createWriteStream>).end((err?: Error | null) => (err ? reject(err) : resolve())));
    console.error(`exported ${counts.experiences} Experiences, ${counts.conversations} conversations, ${counts.messages} messages${values.out ? ` to ${values.out}` : ''}`);
    return 0;
  } finally {
    await database.close();
  }
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'chat':
      return chat(rest);
    case 'doctor':
      return (await runDoctor(process.env, (line) => console.log(line))) ? 0 : 1;
    case 'migrate':
      return migrate();
    case 'backup':
      return backup();
    case 'restore':
      return restore(rest);
    case 'export':
      return exportAll(rest);
    case 'migrate-to-postgres':
      return migrateToPostgres(rest);
    case 'help':
    case '--help':
    case '-h':
      // asked for: the usage on stdout, and success
      console.log(USAGE);
      return 0;
    default:
      console.error(command ? `threadloom: unknown command "${command}"\n${USAGE}` : USAGE);
      return command ? 2 : 0;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err instanceof ThreadloomError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
