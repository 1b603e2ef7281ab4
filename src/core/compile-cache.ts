import module from 'node:module';
import path from 'node:path';

/**
 * V8's compiled code for every module loaded after this, kept between starts: compiling is a good
 * part of a start (Node ≥ 22.1; Node 20 has no such cache and this does nothing there). The cache
 * lives in the data dir, the one place the Docker image and the systemd unit may write that
 * outlives a restart (the unit's PrivateTmp gives each start an empty /tmp). Its subfolders are per
 * Node version; a changed file is compiled and stored again. Deleting it is safe.
 */
export function compileCacheDir(dataDir: string): string {
  return path.join(dataDir, '.cache', 'compile');
}

// typed here: @types/node 20 does not know these functions
const node = module as { enableCompileCache?: (dir: string) => unknown; flushCompileCache?: () => void };

/** Turns the cache on; a folder it cannot write only means no cache (Node reports it, never throws). */
export function enableCompileCache(dataDir: string): void {
  node.enableCompileCache?.(compileCacheDir(dataDir));
}

/** Writes what was compiled so far now, not only when the process exits (a crash or SIGKILL would lose it). */
export function flushCompileCache(): void {
  node.flushCompileCache?.();
}
