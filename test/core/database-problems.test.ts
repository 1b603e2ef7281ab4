import { mkdirSync, mkdtempSync, openSync, writeFileSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnThreadloom } from '../support/process.js';
import { startTestRuntime } from '../support/runtime.js';
import { sqliteOnly } from '../support/postgres.js';

/** A damaged or unusable database file: the operator reads the path and the way out, not a stack. */

const CLOSED_PORT = 'http://127.0.0.1:9';

async function startOn(dataDir: string): Promise<{ code: number | null; stderr: string }> {
  const p = spawnThreadloom('src/main.ts', [], { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: CLOSED_PORT, THREADLOOM_ADMIN_PORT: '0' });
  const code = await p.exited;
  return { code, stderr: p.stderr() };
}

sqliteOnly('a damaged or unopenable SQLite file, its header and pages').describe('starting on a bad database file', () => {
  it('should name the file and the restore command when the file is not a database', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-notadb-'));
    writeFileSync(path.join(dataDir, 'threadloom.db'), 'these are my notes, not a database\n'.repeat(200));
    const { code, stderr } = await startOn(dataDir);
    expect(code).toBe(1);
    expect(stderr).toContain(`the database ${path.join(dataDir, 'threadloom.db')} is damaged (file is not a database)`);
    expect(stderr).toContain('threadloom restore <name>');
    expect(stderr).toContain(path.join(dataDir, 'backups'));
    expect(stderr).not.toMatch(/\n\s+at /); // no stack
  });

  it('should say the same when the file is damaged past its header', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-damaged-'));
    const rt = await startTestRuntime({ dir: dataDir });
    const file = path.join(dataDir, 'threadloom.db');
    await rt.shutdown();
    // keep the header page, overwrite the rest: the schema and tables are unreadable
    const size = statSync(file).size;
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(size - 4096, 0xa5), 0, size - 4096, 4096);
    closeSync(fd);
    const { code, stderr } = await startOn(dataDir);
    expect(code).toBe(1);
    expect(stderr).toContain(`the database ${file} is damaged`);
    expect(stderr).toContain('threadloom restore <name>');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('should name the file when it cannot be opened at all', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-cantopen-'));
    mkdirSync(path.join(dataDir, 'threadloom.db')); // a directory where the file should be
    const { code, stderr } = await startOn(dataDir);
    expect(code).toBe(1);
    expect(stderr).toContain(path.join(dataDir, 'threadloom.db'));
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
