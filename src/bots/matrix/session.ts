import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { ThreadloomError } from '../../core/errors.js';
import { decryptJson, encryptJson, writeFileAtomic } from './store-file.js';

/**
 * Everything the Matrix bot keeps on disk lives in `<dataDir>/matrix/`:
 * - `session.bin`: user id, device id and access token (encrypted), so a password login happens
 *   once and the bot keeps its device — a new device on every start would make every encrypted
 *   room re-share its keys and users see a new unverified device;
 * - `store.bin`: the crypto and sync store snapshot (encrypted);
 * - `store-key`: the key, when none is given in MATRIX_STORE_KEY;
 * - `lock`: the pid of the process using them; two processes on one crypto store corrupt it.
 */
export interface MatrixFiles {
  dir: string;
  session: string;
  store: string;
  lock: string;
  keyFile: string;
}

export function matrixFiles(dataDir: string): MatrixFiles {
  const dir = path.join(dataDir, 'matrix');
  return { dir, session: path.join(dir, 'session.bin'), store: path.join(dir, 'store.bin'), lock: path.join(dir, 'lock'), keyFile: path.join(dir, 'store-key') };
}

export interface StoreKeys {
  /** encrypts the files */
  file: Buffer;
  /** given to the Rust crypto store, which encrypts its own values */
  crypto: Uint8Array;
  /** where the key came from, for the log */
  source: 'config' | 'generated' | 'file' | 'database';
}

/** The store key from MATRIX_STORE_KEY, else from (or into) a key file readable only by us. */
export function storeKeys(files: MatrixFiles, configured: string | undefined): StoreKeys {
  let secret: string;
  let source: StoreKeys['source'];
  if (configured) {
    secret = configured;
    source = 'config';
  } else if (existsSync(files.keyFile)) {
    secret = readFileSync(files.keyFile, 'utf8').trim();
    source = 'file';
  } else {
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    secret = randomBytes(32).toString('base64');
    writeFileAtomic(files.keyFile, Buffer.from(`${secret}\n`));
    source = 'generated';
  }
  return deriveStoreKeys(secret, source);
}

/** The two keys of one store secret: one for the snapshots, one for the Rust crypto store. */
export function deriveStoreKeys(secret: string, source: StoreKeys['source']): StoreKeys {
  const salt = createHash('sha256').update('threadloom matrix store').digest();
  const derive = (info: string): Buffer => Buffer.from(hkdfSync('sha256', secret, salt, info, 32));
  return { file: derive('files'), crypto: new Uint8Array(derive('rust-crypto')), source };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `pid@host`: two containers on one volume both run as pid 1, so the pid alone says nothing. */
const lockOwner = (): string => `${process.pid}@${hostname()}`;

/**
 * Takes the store lock or says who holds it. A lock left by a process of this host that is gone
 * (killed, or this container's previous life) is taken over; a lock of another host cannot be
 * checked and is refused. Returns the release function.
 */
export function lockStore(files: MatrixFiles): () => void {
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  const me = lockOwner();
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(files.lock, 'wx', 0o600);
      writeSync(fd, me);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(files.lock, 'utf8') === me) rmSync(files.lock);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readFileSync(files.lock, 'utf8').trim();
      const [pidText = '', host = hostname()] = holder.split('@');
      const pid = Number.parseInt(pidText, 10);
      const sameHost = host === hostname();
      if (!sameHost) {
        throw new ThreadloomError(
          'platform',
          `matrix: the crypto store in ${files.dir} is locked by Threadloom on host ${host} (pid ${pid}); two processes on one store corrupt its keys — stop that one, or delete ${files.lock} if it is gone for good`,
          { fatal: true },
        );
      }
      if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) {
        throw new ThreadloomError(
          'platform',
          `matrix: the crypto store in ${files.dir} is in use by another Threadloom process (pid ${pid}); stop it first — two processes on one store corrupt its keys`,
          { fatal: true },
        );
      }
      rmSync(files.lock, { force: true });
    }
  }
  throw new ThreadloomError('platform', `matrix: could not lock ${files.lock}`);
}

export interface MatrixSession {
  homeserverURL: string;
  userId: string;
  deviceId: string;
  accessToken: string;
}

export function readSession(files: MatrixFiles, key: Buffer): MatrixSession | null {
  if (!existsSync(files.session)) return null;
  return decryptJson(readFileSync(files.session), key) as MatrixSession;
}

export function saveSession(files: MatrixFiles, key: Buffer, session: MatrixSession): void {
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(files.session, encryptJson(session, key));
}

/**
 * The crypto store belongs to one device of one account. When the session changes device
 * (a new login, another access token), the old store is kept aside instead of being reused.
 */
export function retireStore(files: MatrixFiles, reason: string): string | null {
  if (!existsSync(files.store)) return null;
  const aside = `${files.store}.${new Date().toISOString().replace(/[:.]/g, '-')}.old`;
  renameSync(files.store, aside);
  return `${reason}: the old crypto store was moved to ${aside}`;
}
