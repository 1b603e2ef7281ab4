import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(import.meta.dirname, '../..');
// by file URL, so the child resolves it from here and not from its own working directory
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface ThreadloomProcess {
  child: ChildProcessWithoutNullStreams;
  stderr(): string;
  /** resolves once stderr matches (rejects if the process exits first) */
  waitFor(pattern: RegExp): Promise<void>;
  /** the exit code (null when killed by a signal) */
  exited: Promise<number | null>;
}

/** A Threadloom entry point (`src/main.ts`, `src/cli.ts`) in its own process with only the given environment. */
export function spawnThreadloom(script: string, args: string[], env: Record<string, string>): ThreadloomProcess {
  const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, script), ...args], {
    cwd: mkdtempSync(path.join(tmpdir(), 'threadloom-cwd-')),
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env },
  });
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
    for (const check of waiters) check();
  });
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    stderr: () => stderr,
    exited,
    waitFor: (pattern) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(stderr)) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
        void exited.then((code) => {
          if (waiters.delete(check)) reject(new Error(`exited (${code}) before ${pattern}: ${stderr}`));
        });
      }),
  };
}
