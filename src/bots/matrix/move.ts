import { existsSync, readFileSync } from 'node:fs';
import type { PlatformStateStore } from '../../core/instances/platform-state.js';
import { matrixFiles } from './session.js';
import { MATRIX_SESSION, MATRIX_STORE, MATRIX_STORE_KEY } from './vault.js';

/**
 * `threadloom migrate-to-postgres`: the Matrix bot's session and crypto store go from the data dir
 * into the database, so the instances on PostgreSQL go on as the same device with the same keys
 * (a new device would make every encrypted room re-share its keys; the same device with an empty
 * store cannot upload its keys at all). The files stay encrypted as they are; the key file's
 * secret, when MATRIX_STORE_KEY is not set, is kept sealed with THREADLOOM_SECRET_KEY.
 * Returns what was moved, for the report; nothing when the bot never ran here.
 */
export async function moveMatrixState(dataDir: string, state: PlatformStateStore, storeKeyConfigured: boolean): Promise<string[]> {
  const files = matrixFiles(dataDir);
  const moved: string[] = [];
  if (existsSync(files.session)) {
    await state.write(MATRIX_SESSION, readFileSync(files.session));
    moved.push('session');
  }
  if (existsSync(files.store)) {
    await state.write(MATRIX_STORE, readFileSync(files.store));
    moved.push('crypto store');
  }
  if (!storeKeyConfigured && existsSync(files.keyFile)) {
    await state.keepSecret(MATRIX_STORE_KEY, readFileSync(files.keyFile, 'utf8').trim());
    moved.push('store key');
  }
  return moved;
}
