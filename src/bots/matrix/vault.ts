import type { PlatformStateStore } from '../../core/instances/platform-state.js';
import { lockStore, matrixFiles, readSession, retireStore, saveSession, storeKeys, deriveStoreKeys, type MatrixSession, type StoreKeys } from './session.js';
import { decryptJson, encryptJson, snapshotFile, type SnapshotPlace } from './store-file.js';

/**
 * Where the Matrix bot keeps its session (account, device, token) and its crypto store snapshot:
 * files in `<dataDir>/matrix/` for one instance, or the database when several instances share
 * PostgreSQL and hand the bot to each other (the next holder of the platform's lease goes on as
 * the same device, with the same keys). Either way the content is encrypted with the store key.
 */
export interface MatrixVault {
  /** where it is, for messages */
  readonly where: string;
  /** Takes the single-writer lock; returns its release. In the database the platform's lease is the lock. */
  lock(): () => void;
  keys(configured: string | undefined): Promise<StoreKeys>;
  readSession(key: Buffer): Promise<MatrixSession | null>;
  saveSession(key: Buffer, session: MatrixSession): Promise<void>;
  /** Keeps the crypto store of another device aside instead of reusing it; says where, or null when there was none. */
  retireStore(reason: string): Promise<string | null>;
  readonly snapshot: SnapshotPlace;
}

export function fileVault(dataDir: string): MatrixVault {
  const files = matrixFiles(dataDir);
  return {
    where: files.dir,
    lock: () => lockStore(files),
    keys: async (configured) => storeKeys(files, configured),
    readSession: async (key) => readSession(files, key),
    saveSession: async (key, session) => saveSession(files, key, session),
    retireStore: async (reason) => retireStore(files, reason),
    snapshot: snapshotFile(files.store),
  };
}

export const MATRIX_SESSION = 'matrix:session';
export const MATRIX_STORE = 'matrix:store';
export const MATRIX_STORE_KEY = 'matrix:store-key';

export function databaseVault(state: PlatformStateStore): MatrixVault {
  return {
    where: state.where,
    lock: () => () => undefined,
    // without MATRIX_STORE_KEY, a key made once and kept sealed with THREADLOOM_SECRET_KEY, which every instance shares
    keys: async (configured) => (configured ? deriveStoreKeys(configured, 'config') : deriveStoreKeys(await state.secret(MATRIX_STORE_KEY), 'database')),
    async readSession(key) {
      const sealed = await state.read(MATRIX_SESSION);
      return sealed ? (decryptJson(sealed, key) as MatrixSession) : null;
    },
    saveSession: (key, session) => state.write(MATRIX_SESSION, encryptJson(session, key)),
    async retireStore(reason) {
      const aside = `${MATRIX_STORE}:${new Date().toISOString()}:old`;
      return (await state.moveAside(MATRIX_STORE, aside)) ? `${reason}: the old crypto store was kept aside as ${aside} in ${state.where}` : null;
    },
    snapshot: {
      read: () => state.read(MATRIX_STORE),
      write: (content) => state.write(MATRIX_STORE, content),
    },
  };
}
