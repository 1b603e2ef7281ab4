import { parseArgs } from 'node:util';
import { createConsoleAdapter } from './bots/console/index.js';
import { loadConfig } from './core/config.js';
import { runDoctor } from './core/doctor.js';
import { databaseFile, openDatabase } from './core/db/open.js';
import { migrateToLatest } from './core/db/migrate.js';
import { ThreadloomError } from './core/errors.js';
import { startRuntime } from './core/runtime.js';
import type { Logger } from './core/log.js';

const USAGE = `usage: threadloom <command>
  chat [--experience <slug>]   chat in the terminal with an Experience (default: general)
  doctor                       check config, database, migrations and providers
  migrate                      apply pending database migrations`;

/** In a terminal chat only warnings and errors are logged, on stderr, so answers stay readable. */
const quietLogger: Logger = {
  info() {},
  warn: (m) => process.stderr.write(`warning: ${m}\n`),
  error: (m, f) => process.stderr.write(`error: ${m}${f ? ` ${JSON.stringify(f)}` : ''}\n`),
};

async function chat(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { experience: { type: 'string', short: 'e', default: 'general' } } });
  const runtime = await startRuntime(loadConfig(), { log: quietLogger });
  try {
    const adapter = createConsoleAdapter({ engine: runtime.engine, experienceSlug: values.experience! });
    await adapter.start();
    await adapter.done;
  } finally {
    await runtime.close();
  }
  return 0;
}

async function migrate(): Promise<number> {
  const config = loadConfig();
  const database = openDatabase(databaseFile(config.dataDir));
  try {
    const { applied } = await migrateToLatest(database.db);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
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
    default:
      console.error(USAGE);
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
