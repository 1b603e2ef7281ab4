import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `npm start` as a user runs it: built once, ready without recompiling the next time, and
 * stopped as a service is — a SIGTERM to the npm process stops Threadloom with its usual drain
 * instead of leaving it running behind a dead npm.
 */

const ROOT = path.resolve(import.meta.dirname, '..');

function npmStart(dataDir: string) {
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', THREADLOOM_DATA_DIR: dataDir, THREADLOOM_ADMIN_PORT: '0', OLLAMA_HOST: 'http://127.0.0.1:9' },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  // 'close', not 'exit': it waits for every process holding npm's output, the server included
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => (/threadloom ready in \d+ ms/.test(output) ? resolve() : undefined);
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    void exited.then(() => reject(new Error(`npm start ended before ready:\n${output}`)));
  });
  return { child, ready, exited, output: () => output };
}

/** Whether a process with this pid is still alive. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start', () => {
  it('should stop Threadloom when the npm process gets SIGTERM, and not rebuild on the next start', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-npm-start-'));
    const first = npmStart(dataDir);
    await first.ready; // builds dist/ if the sources are newer than the last build
    // the server's own pid, from the data dir's lock
    const serverPid = (JSON.parse(readFileSync(path.join(dataDir, 'threadloom.lock.owner'), 'utf8')) as { pid: number }).pid;
    expect(serverPid).not.toBe(first.child.pid);
    first.child.kill('SIGTERM');
    await first.exited;
    expect(first.output()).toContain('SIGTERM: shutting down');
    // the server itself is gone too: no Threadloom left holding the admin port and the data dir
    expect(alive(serverPid)).toBe(false);

    const second = npmStart(dataDir);
    await second.ready;
    expect(second.output()).not.toContain('building dist/');
    second.child.kill('SIGTERM');
    await second.exited;
    expect(second.output()).toContain('SIGTERM: shutting down');
  }, 180_000);
});
