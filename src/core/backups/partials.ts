import { lstat, rm } from 'node:fs/promises';
import path from 'node:path';
import { folderNames } from './catalog.js';

/**
 * Hidden `.….partial` files in the backups folder are work in progress: a backup being copied,
 * an upload arriving, a candidate staged for a restore. A process killed meanwhile leaves its
 * partial behind (one of 217 MB was seen), and nothing would ever remove it.
 */

/** Partials this process is writing now; never removed as stale. */
const inUse = new Set<string>();

/**
 * A partial untouched this long belongs to no running work; the age spares one another process
 * (the CLI) is writing, since a running copy or upload keeps writing to it.
 */
export const STALE_PARTIAL_MS = 5 * 60 * 1000;

const PARTIAL = /^\..*\.partial(-wal|-shm|-journal)?$/;

/** Marks `file` as being written by this process until the returned function is called. */
export function claimPartial(file: string): () => void {
  const resolved = path.resolve(file);
  inUse.add(resolved);
  return () => void inUse.delete(resolved);
}

/**
 * Removes partial files (and their journals) that no work in this process owns and that nobody
 * has written to for `STALE_PARTIAL_MS`. Returns the names removed.
 */
export async function removeStalePartials(dir: string, now = Date.now(), staleMs = STALE_PARTIAL_MS): Promise<string[]> {
  const files = await folderNames(dir);
  const removed: string[] = [];
  for (const name of files.filter((f) => PARTIAL.test(f))) {
    const file = path.join(dir, name);
    const owner = file.replace(/-(wal|shm|journal)$/, '');
    if (inUse.has(owner)) continue;
    try {
      const stats = await lstat(file);
      if (now - stats.mtimeMs < staleMs) continue;
      await rm(file, { force: true });
      removed.push(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}
