import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The PostgreSQL 18 client tools of the test server's chroot (test/postgres/postgres.sh): this
 * machine's Debian has an older pg_dump, which refuses a PostgreSQL 18 server.
 */
export const PG_ROOT = process.env.THREADLOOM_POSTGRES_ROOT || '/var/cache/threadloom-postgres';
const PG_BIN = '/usr/lib/postgresql/18/bin';

/** pg_dump 18 for THREADLOOM_PG_DUMP / backups.pgDump: runs the chroot's, writing --file on this side. */
export const PG_DUMP_WRAPPER = path.resolve(import.meta.dirname, '../postgres/pg_dump.sh');

export const pgToolsPresent = (): boolean => existsSync(path.join(PG_ROOT, PG_BIN, 'pg_dump'));

/**
 * Runs the chroot's pg_restore with `args`, the archive `file` on its stdin (the chroot cannot
 * see this side's files); the password, if any, in PGPASSWORD.
 */
export function pgRestore(args: string[], file: string, password?: string | null): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('chroot', [PG_ROOT, 'env', 'LC_ALL=C.UTF-8', `${PG_BIN}/pg_restore`, ...args], {
      env: { PATH: process.env.PATH, ...(password ? { PGPASSWORD: password } : {}) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // pg_restore may stop reading before the end (--list reads the table of contents only): its exit code says how it went
    child.stdin.on('error', () => undefined);
    createReadStream(file).pipe(child.stdin);
  });
}

/** The URL without its password, and the password: how pg_restore is given them here. */
export function withoutPassword(url: string): { url: string; password: string | null } {
  const parsed = new URL(url);
  const password = parsed.password ? decodeURIComponent(parsed.password) : null;
  parsed.password = '';
  return { url: parsed.toString(), password };
}
