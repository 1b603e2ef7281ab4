/**
 * The process's entry (`node dist/src/main.js`). It loads only what finding and locking the data dir
 * needs, turns on Node's compile cache there, and then loads the rest: compiling it is a good part
 * of a start, and the cache keeps that work for the next start.
 */
import { loadConfig, type Config } from './core/config.js';
import { enableCompileCache } from './core/compile-cache.js';
import { lockDataDir } from './core/data-dir-lock.js';
import { ThreadloomError } from './core/errors.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  // before anything opens the database: a second Threadloom on this data dir stops here
  const dataDirLock = lockDataDir(config.dataDir);
  enableCompileCache(config.dataDir);
  const { serve } = await import('./serve.js');
  await serve(config, dataDirLock);
}

main().catch((err) => {
  const message = err instanceof ThreadloomError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`threadloom could not start: ${message}\n`);
  process.exit(1);
});
