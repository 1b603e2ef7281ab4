import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { writeFileAtomic } from '../../core/atomic-file.js';
import { ThreadloomError } from '../../core/errors.js';

export { writeFileAtomic };

/**
 * The Matrix SDK keeps its crypto state (identity keys, Olm/Megolm sessions) and its sync
 * position in IndexedDB. Node has none, so an in-memory IndexedDB stands in, and this module
 * snapshots its databases to one file and restores them before the client starts. Without it a
 * restarted bot has new identity keys, the homeserver refuses their upload and every encrypted
 * message stays unreadable.
 *
 * The file is AES-256-GCM encrypted with the store key: it holds private keys.
 */

/* The slice of the IndexedDB API used here (Node has no DOM types). */
type IdbKey = unknown;
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}
interface IdbIndex {
  name: string;
  keyPath: string | string[];
  unique: boolean;
  multiEntry: boolean;
}
interface IdbObjectStore {
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexNames: Iterable<string>;
  index(name: string): IdbIndex;
  getAll(): IdbRequest<unknown[]>;
  getAllKeys(): IdbRequest<IdbKey[]>;
  put(value: unknown, key?: IdbKey): unknown;
  createIndex(name: string, keyPath: string | string[], options: { unique: boolean; multiEntry: boolean }): unknown;
}
interface IdbTransaction {
  objectStore(name: string): IdbObjectStore;
  error: unknown;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbDatabase {
  version: number;
  objectStoreNames: Iterable<string>;
  transaction(names: string[], mode: 'readonly' | 'readwrite'): IdbTransaction;
  createObjectStore(name: string, options: { keyPath: string | string[] | null; autoIncrement: boolean }): IdbObjectStore;
  close(): void;
}
export interface IdbFactory {
  open(name: string, version?: number): IdbOpenRequest;
  databases(): Promise<Array<{ name?: string; version?: number }>>;
}

interface IndexShape {
  name: string;
  keyPath: string | string[];
  unique: boolean;
  multiEntry: boolean;
}

interface StoreShape {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexes: IndexShape[];
  keys: IdbKey[];
  values: unknown[];
}

interface DatabaseShape {
  name: string;
  version: number;
  stores: StoreShape[];
}

const MAGIC = Buffer.from('TLMXS1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

function request<T>(req: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function open(factory: IdbFactory, name: string, version?: number, upgrade?: (db: IdbDatabase) => void): Promise<IdbDatabase> {
  return new Promise((resolve, reject) => {
    const req = version === undefined ? factory.open(name) : factory.open(name, version);
    req.onupgradeneeded = () => upgrade?.(req.result);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error(`IndexedDB ${name} is blocked`));
  });
}

/** One database, read in a single transaction so the snapshot is consistent. */
async function dumpDatabase(factory: IdbFactory, name: string): Promise<DatabaseShape> {
  const db = await open(factory, name);
  try {
    const storeNames = Array.from(db.objectStoreNames);
    if (storeNames.length === 0) return { name, version: db.version, stores: [] };
    const tx = db.transaction(storeNames, 'readonly');
    const stores = await Promise.all(
      storeNames.map(async (storeName): Promise<StoreShape> => {
        const store = tx.objectStore(storeName);
        const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
        const indexes = Array.from(store.indexNames).map((indexName) => {
          const index = store.index(indexName);
          return { name: index.name, keyPath: index.keyPath, unique: index.unique, multiEntry: index.multiEntry };
        });
        return { name: storeName, keyPath: store.keyPath, autoIncrement: store.autoIncrement, indexes, keys, values };
      }),
    );
    return { name, version: db.version, stores };
  } finally {
    db.close();
  }
}

async function restoreDatabase(factory: IdbFactory, shape: DatabaseShape): Promise<void> {
  const db = await open(factory, shape.name, shape.version, (created) => {
    for (const store of shape.stores) {
      const objectStore = created.createObjectStore(store.name, { keyPath: store.keyPath, autoIncrement: store.autoIncrement });
      for (const index of store.indexes) objectStore.createIndex(index.name, index.keyPath, { unique: index.unique, multiEntry: index.multiEntry });
    }
  });
  try {
    const names = shape.stores.map((s) => s.name);
    if (names.length === 0) return;
    const tx = db.transaction(names, 'readwrite');
    for (const store of shape.stores) {
      const objectStore = tx.objectStore(store.name);
      store.values.forEach((value, i) => (store.keyPath === null ? objectStore.put(value, store.keys[i]) : objectStore.put(value)));
    }
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export async function dumpDatabases(factory: IdbFactory): Promise<DatabaseShape[]> {
  const list = await factory.databases();
  const shapes: DatabaseShape[] = [];
  for (const { name } of list) if (name) shapes.push(await dumpDatabase(factory, name));
  return shapes;
}

/** AES-256-GCM: a changed key or a damaged file fails loudly instead of yielding garbage. */
function seal(plain: Buffer, key: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), body]);
}

function open_(sealed: Buffer, key: Buffer): Buffer {
  if (!sealed.subarray(0, MAGIC.length).equals(MAGIC)) throw new ThreadloomError('platform', 'matrix: not a Threadloom Matrix store file');
  const iv = sealed.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
  const tag = sealed.subarray(MAGIC.length + IV_BYTES, MAGIC.length + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.subarray(MAGIC.length + IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw new ThreadloomError('platform', 'matrix: the stored Matrix session cannot be decrypted with this store key — was MATRIX_STORE_KEY changed? Set the old key back, or remove data/matrix/ to start over with a new device');
  }
}

export const encryptSnapshot = (shapes: DatabaseShape[], key: Buffer): Buffer => seal(serialize(shapes), key);
export const decryptSnapshot = (sealed: Buffer, key: Buffer): DatabaseShape[] => deserialize(open_(sealed, key)) as DatabaseShape[];
export const encryptJson = (value: unknown, key: Buffer): Buffer => seal(Buffer.from(JSON.stringify(value)), key);
export const decryptJson = (sealed: Buffer, key: Buffer): unknown => JSON.parse(open_(sealed, key).toString('utf8'));

/** Where a snapshot is kept: a file in the data dir, or the database when instances share one. */
export interface SnapshotPlace {
  /** the snapshot, or null when none was saved yet */
  read(): Promise<Buffer | null>;
  write(content: Buffer): Promise<void>;
}

export function snapshotFile(file: string): SnapshotPlace {
  return {
    async read() {
      try {
        return readFileSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async write(content) {
      writeFileAtomic(file, content);
    },
  };
}

/**
 * Keeps an IndexedDB factory's content in an encrypted snapshot: `restore()` before the SDK opens
 * anything, `schedule()` after writes (coalesced), `flush()` on shutdown.
 */
export class PersistedIndexedDB {
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  lastBytes = 0;

  constructor(
    private readonly factory: IdbFactory,
    private readonly place: SnapshotPlace,
    private readonly key: Buffer,
    private readonly onError: (err: unknown) => void,
    private readonly delayMs = 200,
  ) {}

  /** Loads the snapshot's databases into the factory; false when there is none yet. */
  async restore(): Promise<boolean> {
    const content = await this.place.read();
    if (!content) return false;
    for (const shape of decryptSnapshot(content, this.key)) await restoreDatabase(this.factory, shape);
    return true;
  }

  /** Something changed: write a snapshot soon, coalescing a burst of writes into one. */
  schedule(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush().catch(this.onError);
    }, this.delayMs);
  }

  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // a failed save (the disk, the database) must not stop every later one: it was reported
    this.writing = this.writing.catch(() => undefined).then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      try {
        const snapshot = encryptSnapshot(await dumpDatabases(this.factory), this.key);
        await this.place.write(snapshot);
        this.lastBytes = snapshot.length;
      } catch (err) {
        // still unsaved: the next change or the stop tries again
        this.dirty = true;
        throw err;
      }
    });
    await this.writing;
  }
}

interface TransactionFactory {
  prototype: { transaction(this: unknown, names: unknown, mode?: string, ...rest: unknown[]): { addEventListener(type: 'complete', listener: () => void): void } };
}

/**
 * Calls `onWrite` after every committed read-write transaction of the in-memory IndexedDB, so
 * each change of crypto state reaches the file soon after. Returns the undo.
 */
export function watchWrites(databaseClass: unknown, onWrite: () => void): () => void {
  const proto = (databaseClass as TransactionFactory).prototype;
  const original = proto.transaction;
  proto.transaction = function (this: unknown, names: unknown, mode?: string, ...rest: unknown[]) {
    const transaction = original.call(this, names, mode, ...rest);
    if (mode === 'readwrite') transaction.addEventListener('complete', onWrite);
    return transaction;
  };
  return () => {
    proto.transaction = original;
  };
}
