import path from 'node:path';
import { ThreadloomError } from '../errors.js';

/**
 * What an operator reads when the database file itself is the problem: the path, what is wrong
 * in words, and the way out — never a driver's stack.
 */

const DAMAGED = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_CORRUPT_VTAB', 'SQLITE_CORRUPT_INDEX']);
const UNWRITABLE = new Set(['SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_READONLY_DIRECTORY', 'SQLITE_CANTOPEN', 'SQLITE_IOERR_WRITE', 'EROFS', 'EACCES', 'EPERM']);

function codeOf(err: unknown): string | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (code.startsWith('SQLITE_') || code.startsWith('E'))) return code;
  }
  return undefined;
}

/** A ThreadloomError naming the file and the fix when `err` says the file is damaged or cannot be written; null otherwise. */
export function databaseFileProblem(err: unknown, file: string): ThreadloomError | null {
  const code = codeOf(err);
  if (!code) return null;
  const where = path.resolve(file);
  const backups = path.join(path.dirname(where), 'backups');
  if (DAMAGED.has(code) || code.startsWith('SQLITE_CORRUPT')) {
    return new ThreadloomError(
      'database',
      `the database ${where} is damaged (${(err as Error).message}); restore a backup: \`threadloom restore <name>\` with a file from ${backups} (\`ls ${backups}\`), or move the file away to start empty`,
      { cause: err },
    );
  }
  if (UNWRITABLE.has(code) || code.startsWith('SQLITE_READONLY')) {
    return new ThreadloomError(
      'database',
      `the database ${where} cannot be opened for writing (${(err as Error).message}); Threadloom needs to write its data dir: check that ${path.dirname(where)} is mounted read-write and owned by the user running Threadloom`,
      { cause: err },
    );
  }
  return null;
}
