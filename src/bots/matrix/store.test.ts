import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { IDBDatabase, IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockStore, matrixFiles, readSession, retireStore, saveSession, storeKeys, type MatrixFiles } from './session.js';
import { PersistedIndexedDB, snapshotFile, watchWrites, type IdbFactory } from './store-file.js';

// Node has no DOM types for IndexedDB: the fake's objects are used untyped here
/* eslint-disable @typescript-eslint/no-explicit-any */
type Factory = any;

function request<T = any>(req: { result: T; onsuccess: (() => void) | null; onerror: (() => void) | null; error: unknown }): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** A database shaped like the crypto store: a keyPath store with an index and an out-of-line store. */
async function fill(factory: Factory): Promise<void> {
  const open = factory.open('crypto', 3);
  open.onupgradeneeded = () => {
    const sessions = open.result.createObjectStore('sessions', { keyPath: ['sender', 'id'] });
    sessions.createIndex('bySender', 'sender', { unique: false });
    open.result.createObjectStore('core');
  };
  const db = await request(open);
  const tx = db.transaction(['sessions', 'core'], 'readwrite');
  tx.objectStore('sessions').put({ sender: 'alice', id: 's1', pickle: new Uint8Array([1, 2, 3]) });
  tx.objectStore('sessions').put({ sender: 'bob', id: 's2', pickle: new Uint8Array([4]) });
  tx.objectStore('core').put({ account: 'identity keys' }, 'account');
  await new Promise((resolve) => (tx.oncomplete = resolve));
  db.close();
}

describe('the Matrix store file', () => {
  let dir: string;
  let files: MatrixFiles;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'threadloom-mxstore-'));
    files = matrixFiles(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('restores IndexedDB databases, their indexes and binary values into a fresh process-like factory', async () => {
    const keys = storeKeys(files, 'a store key of enough length');
    const first = new IDBFactory();
    await fill(first);
    const saved = new PersistedIndexedDB(first as unknown as IdbFactory, snapshotFile(files.store), keys.file, (err) => {
      throw err;
    });
    saved.schedule();
    await saved.flush();
    expect(readFileSync(files.store).includes(Buffer.from('identity keys'))).toBe(false); // encrypted at rest

    const second = new IDBFactory();
    const restored = new PersistedIndexedDB(second as unknown as IdbFactory, snapshotFile(files.store), keys.file, () => undefined);
    expect(await restored.restore()).toBe(true);
    const db = await request(second.open('crypto'));
    expect(db.version).toBe(3);
    const tx = db.transaction(['sessions', 'core'], 'readonly');
    const bob = await request(tx.objectStore('sessions').index('bySender').get('bob'));
    expect(bob).toEqual({ sender: 'bob', id: 's2', pickle: new Uint8Array([4]) });
    expect(await request(tx.objectStore('core').get('account'))).toEqual({ account: 'identity keys' });
    db.close();
  });

  it('refuses a store file written with another key, saying what to do', async () => {
    const factory = new IDBFactory();
    await fill(factory);
    const saved = new PersistedIndexedDB(factory as unknown as IdbFactory, snapshotFile(files.store), storeKeys(files, 'the first key, long enough').file, () => undefined);
    saved.schedule();
    await saved.flush();
    const other = new PersistedIndexedDB(new IDBFactory() as unknown as IdbFactory, snapshotFile(files.store), storeKeys(files, 'another key, also long enough').file, () => undefined);
    await expect(other.restore()).rejects.toThrow(/MATRIX_STORE_KEY changed/);
  });

  it('writes a snapshot after read-write transactions, not after reads', async () => {
    const factory = new IDBFactory();
    let writes = 0;
    const undo = watchWrites(IDBDatabase, () => writes++);
    try {
      await fill(factory);
      expect(writes).toBe(1);
      const db = await request(factory.open('crypto'));
      const tx = db.transaction(['core'], 'readonly');
      await request(tx.objectStore('core').get('account'));
      db.close();
      expect(writes).toBe(1);
    } finally {
      undo();
    }
  });

  it('keeps a generated store key in the data dir, readable only by its owner', () => {
    const first = storeKeys(files, undefined);
    expect(first.source).toBe('generated');
    const again = storeKeys(files, undefined);
    expect(again.source).toBe('file');
    expect(again.file.equals(first.file)).toBe(true);
    expect((statSync(files.keyFile).mode & 0o777).toString(8)).toBe('600');
  });

  it('keeps the session encrypted and moves the old crypto store aside when the device changes', () => {
    const key = storeKeys(files, 'a store key of enough length').file;
    saveSession(files, key, { homeserverURL: 'http://hs', userId: '@bot:hs', deviceId: 'DEV1', accessToken: 'syt_secret' });
    expect(readFileSync(files.session).includes(Buffer.from('syt_secret'))).toBe(false);
    expect(readSession(files, key)).toMatchObject({ deviceId: 'DEV1', accessToken: 'syt_secret' });
    writeFileSync(files.store, 'old store');
    expect(retireStore(files, 'new device')).toMatch(/moved to .*store\.bin\..*\.old/);
  });

  it('locks the store against a live process and takes over a lock left by a dead one', async () => {
    const release = lockStore(files);
    expect(readFileSync(files.lock, 'utf8')).toBe(`${process.pid}@${hostname()}`);
    release();
    // a live process holds it
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    writeFileSync(files.lock, `${sleeper.pid}@${hostname()}`);
    try {
      expect(() => lockStore(files)).toThrow(new RegExp(`in use by another Threadloom process \\(pid ${sleeper.pid}\\)`));
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.once('exit', resolve));
    }
    // now it is dead: its lock is stale
    const again = lockStore(files);
    expect(readFileSync(files.lock, 'utf8')).toBe(`${process.pid}@${hostname()}`);
    again();
  });

  it('refuses a lock held by Threadloom on another host (another container on the same volume, also pid 1)', () => {
    mkdirSync(files.dir, { recursive: true });
    writeFileSync(files.lock, `${process.pid}@another-container`);
    expect(() => lockStore(files)).toThrow(/locked by Threadloom on host another-container/);
    // this host's own earlier life with the same pid is taken over
    writeFileSync(files.lock, `${process.pid}@${hostname()}`);
    lockStore(files)();
  });
});
