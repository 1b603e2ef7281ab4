import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { ThreadloomError } from './errors.js';

/**
 * One Threadloom per data dir: two would run two backup schedules and two bots on one database
 * (answering every message twice). The lock is an exclusive SQLite lock on `threadloom.lock`
 * held for the life of the process: the kernel drops it when the process dies however it dies
 * (SIGKILL, a crash, a container stopped), so there is never a stale lock to delete by hand.
 * Who holds it is written beside it, for the message the second process prints.
 */

export interface DataDirLock {
  file: string;
  release(): void;
}

const LOCK_FILE = 'threadloom.lock';
const OWNER_FILE = 'threadloom.lock.owner';

function holderOf(dataDir: string): string {
  try {
    const owner = JSON.parse(readFileSync(path.join(dataDir, OWNER_FILE), 'utf8')) as { pid?: number; host?: string; since?: string };
    return `pid ${owner.pid ?? '?'} on host ${owner.host ?? '?'}, since ${owner.since ?? '?'}`;
  } catch {
    return 'a process that did not say who it is';
  }
}

/** Takes the data dir's lock, or throws a fatal error naming the holder. */
export function lockDataDir(dataDir: string, now: () => Date = () => new Date()): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  const lock = new SQLite(file, { timeout: 0 });
  try {
    lock.pragma('journal_mode = DELETE');
    lock.pragma('locking_mode = EXCLUSIVE');
    // the first write takes the exclusive lock, which EXCLUSIVE mode keeps until the connection closes
    lock.exec('CREATE TABLE IF NOT EXISTS lock (taken_at TEXT NOT NULL)');
    lock.prepare('INSERT INTO lock (taken_at) VALUES (?)').run(now().toISOString());
    lock.exec('DELETE FROM lock WHERE rowid < (SELECT max(rowid) FROM lock)');
  } catch (err) {
    lock.close();
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      throw new ThreadloomError(
        'config',
        `the data dir ${path.resolve(dataDir)} is in use by another Threadloom (${holderOf(dataDir)}); stop that one first, or give this one its own THREADLOOM_DATA_DIR — two on one database would answer every message twice`,
        { fatal: true, cause: err },
      );
    }
    throw new ThreadloomError('database', `cannot lock the data dir ${path.resolve(dataDir)}: ${(err as Error).message}`, { cause: err });
  }
  const ownerFile = path.join(dataDir, OWNER_FILE);
  writeFileSync(ownerFile, `${JSON.stringify({ pid: process.pid, host: hostname(), since: now().toISOString() })}\n`);
  let released = false;
  return {
    file,
    release: () => {
      if (released) return;
      released = true;
      rmSync(ownerFile, { force: true });
      lock.close();
    },
  };
}
