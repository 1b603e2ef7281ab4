import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnThreadloom, type ThreadloomProcess } from '../support/process.js';

/** Two Threadlooms on one data dir would run two schedulers and two bots on one database. */

const CLOSED_PORT = 'http://127.0.0.1:9';
/** three starts through tsx: each compiles the whole tree first, which on a loaded machine takes seconds */
const PATIENT = 60_000;
const started: ThreadloomProcess[] = [];
afterEach(() => {
  for (const p of started.splice(0)) p.child.kill('SIGKILL');
});

function start(dataDir: string): ThreadloomProcess {
  const p = spawnThreadloom('src/main.ts', [], { THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: CLOSED_PORT, THREADLOOM_ADMIN_PORT: '0', THREADLOOM_ADMIN_PASSWORD: 'a long enough password' });
  started.push(p);
  return p;
}

describe('one Threadloom per data dir', () => {
  it('should refuse a second process on the same data dir, naming the first, and start once the first is killed', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-lock-'));
    const first = start(dataDir);
    await first.waitFor(/ready in \d+ ms/);

    const second = start(dataDir);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`the data dir ${dataDir} is in use by another Threadloom (pid ${first.child.pid} on host`);
    expect(second.stderr()).not.toContain('ready in');

    // SIGKILL leaves no chance to clean up: the lock must still not outlive the process
    first.child.kill('SIGKILL');
    await first.exited;
    const third = start(dataDir);
    await third.waitFor(/ready in \d+ ms/);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  }, PATIENT);

  it('should let another data dir run beside it', async () => {
    const first = start(mkdtempSync(path.join(tmpdir(), 'threadloom-lock-a-')));
    const second = start(mkdtempSync(path.join(tmpdir(), 'threadloom-lock-b-')));
    await Promise.all([first.waitFor(/ready in \d+ ms/), second.waitFor(/ready in \d+ ms/)]);
  }, PATIENT);
});
