import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { Db } from '../db/open.js';
import { redactedUrl } from '../db/postgres.js';
import { errorMessage } from '../errors.js';

/**
 * pg_dump: where it is, whether it can dump this server, and running it without the password
 * ever reaching the process list or a message.
 */

/** Time for `pg_dump --version`, and for pg_dump to connect (PGCONNECT_TIMEOUT, unless set). */
const VERSION_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_S = '10';
/**
 * How long pg_dump waits for a table's shared lock at its start: a migration holding an exclusive
 * lock would otherwise hold the backup (and with it "a backup is already running") for as long.
 */
const LOCK_WAIT = '60s';
/** How much of pg_dump's stderr a failure keeps (its last lines say what went wrong). */
const STDERR_KEEP_CHARS = 4_000;

export const PG_DUMP_SETTING = 'backups.pgDump / THREADLOOM_PG_DUMP';

export type PgDumpCheck =
  | { ok: true; path: string; version: string; major: number; server: string; serverMajor: number }
  | { ok: false; path: string | null; version: string | null; message: string };

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** A path (anything with a slash) as it is, a bare command looked up on PATH; null when not there. */
export function locateCommand(command: string, envPath = process.env.PATH ?? ''): string | null {
  if (command.includes('/')) return isExecutable(command) ? path.resolve(command) : null;
  for (const dir of envPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/** `pg_dump (PostgreSQL) 18.6 (Debian 18.6-3)` → 18.6 and 18; null for anything else. */
export function parsePgDumpVersion(output: string): { version: string; major: number } | null {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(output);
  if (!match) return null;
  return { version: match[2] ? `${match[1]}.${match[2]}` : match[1]!, major: Number(match[1]) };
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(timeoutMs ? { timeout: timeoutMs } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-STDERR_KEEP_CHARS)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-STDERR_KEEP_CHARS)));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? -1 : null), stdout, stderr }));
  });
}

function installHint(serverMajor: number | null): string {
  return serverMajor ? `postgresql-client-${serverMajor}` : 'the PostgreSQL client tools of your server’s major version';
}

async function serverVersion(db: Db): Promise<{ server: string; serverMajor: number }> {
  const { rows } = await sql<{ server: string; num: string }>`SELECT current_setting('server_version') AS server, current_setting('server_version_num') AS num`.execute(db);
  const row = rows[0]!;
  return { server: row.server.split(' ')[0]!, serverMajor: Math.floor(Number(row.num) / 10_000) };
}

/**
 * Which pg_dump backups would use and whether it can dump this server: pg_dump refuses a server
 * of a newer major version than its own, so that is said before a backup is tried, with what to
 * install. `configured` is `backups.pgDump` (env THREADLOOM_PG_DUMP); unset, `pg_dump` on PATH.
 */
export async function checkPgDump(db: Db, configured: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<PgDumpCheck> {
  let server: { server: string; serverMajor: number } | null = null;
  let serverError = '';
  try {
    server = await serverVersion(db);
  } catch (err) {
    serverError = errorMessage(err);
  }
  const hint = installHint(server?.serverMajor ?? null);
  const found = locateCommand(configured ?? 'pg_dump', env.PATH);
  if (!found) {
    const message = configured
      ? `pg_dump not found at ${configured} (${PG_DUMP_SETTING}): install ${hint}, or point ${PG_DUMP_SETTING} at its pg_dump`
      : `pg_dump is not installed (not on PATH): install ${hint}, or set THREADLOOM_PG_DUMP to its path`;
    return { ok: false, path: null, version: null, message };
  }
  let parsed: ReturnType<typeof parsePgDumpVersion>;
  try {
    const { stdout, stderr } = await run(found, ['--version'], env, VERSION_TIMEOUT_MS);
    parsed = parsePgDumpVersion(stdout);
    if (!parsed) return { ok: false, path: found, version: null, message: `${found} --version did not say which pg_dump it is (${(stdout || stderr).trim().slice(0, 200) || 'no output'})` };
  } catch (err) {
    return { ok: false, path: found, version: null, message: `could not run ${found}: ${errorMessage(err)}` };
  }
  if (!server) return { ok: false, path: found, version: parsed.version, message: `could not ask the PostgreSQL server its version: ${redactUrls(serverError)}` };
  if (parsed.major < server.serverMajor) {
    return {
      ok: false,
      path: found,
      version: parsed.version,
      message: `pg_dump ${parsed.major} cannot dump PostgreSQL ${server.serverMajor} (${found}): install ${hint}, or set THREADLOOM_PG_DUMP to a pg_dump ${server.serverMajor} or newer`,
    };
  }
  return { ok: true, path: found, version: parsed.version, major: parsed.major, ...server };
}

/** Every postgres:// URL in `text` with its password replaced, and the password itself wherever it appears. */
export function redactUrls(text: string, password?: string | null): string {
  let out = text.replace(/postgres(?:ql)?:\/\/[^\s'"<>]+/g, (url) => redactedUrl(url));
  if (password && password.length >= 4) out = out.split(password).join('***');
  return out;
}

/**
 * The URL split for pg_dump: the connection string without a password (what the command line,
 * and so `ps`, shows) and the password, which goes to pg_dump in PGPASSWORD.
 */
export function splitPassword(url: string): { dbname: string; password: string | null } {
  const parsed = new URL(url);
  let password = parsed.password ? decodeURIComponent(parsed.password) : null;
  parsed.password = '';
  const inQuery = parsed.searchParams.get('password');
  if (inQuery !== null) {
    password = inQuery;
    parsed.searchParams.delete('password');
  }
  return { dbname: parsed.toString(), password };
}

/**
 * `pg_dump --format=custom` of the database at `url` into `file`. The password is passed in
 * PGPASSWORD, never on the command line; pg_dump never prompts (`--no-password`), gives up
 * connecting after PGCONNECT_TIMEOUT and waiting for a lock after LOCK_WAIT. A failure throws
 * pg_dump's own words, URLs redacted.
 */
export async function runPgDump(pgDump: string, url: string, file: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { dbname, password } = splitPassword(url);
  const childEnv: NodeJS.ProcessEnv = { ...env, PGCONNECT_TIMEOUT: env.PGCONNECT_TIMEOUT ?? CONNECT_TIMEOUT_S };
  if (password !== null) childEnv.PGPASSWORD = password;
  const { code, stderr } = await run(pgDump, ['--format=custom', '--no-password', `--lock-wait-timeout=${LOCK_WAIT}`, `--file=${file}`, `--dbname=${dbname}`], childEnv);
  if (code !== 0) {
    const said = stderr.trim().split('\n').slice(-3).join(' ').trim();
    throw new Error(`pg_dump exited with ${code}${said ? `: ${redactUrls(said, password)}` : ''}`);
  }
}
