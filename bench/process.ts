/**
 * Real processes for the benchmarks that measure Threadloom from the outside: the fake OpenAI
 * server in its own process, and Threadloom as `npm start` runs it (`node dist/src/main.js`, the
 * shipped build) on a fresh data directory with a config file. `npm run build` must have run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export interface FakeProvider {
  url: string;
  child: ChildProcess;
  close(): void;
}

/** `bench/fake-openai-server.ts` in its own process (env: ANSWER_TOKENS, CHUNK_DELAY_MS). */
export function startFakeProvider(env: Record<string, string>): Promise<FakeProvider> {
  const child = spawn(process.execPath, [...process.execArgv, path.join(ROOT, 'bench/fake-openai-server.ts')], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    createInterface({ input: child.stdout! }).once('line', (url) => resolve({ url, child, close: () => void child.stdin!.end() }));
  });
}

export interface ThreadloomProcess {
  child: ChildProcess;
  dataDir: string;
  /** the admin web's base URL (also /v1) */
  adminUrl: string;
  /** from spawn to the "ready" line, measured here */
  readyWallMs: number;
  /** what the process itself said ("ready in N ms") */
  readyInternalMs: number;
  /** resident memory split from /proc/<pid>/status: anonymous (what the process allocates) and file-backed pages */
  memory(): { rssMb: number; anonMb: number; fileMb: number };
  /** CPU time the process has used (user + system), in ms: steadier than wall time on a shared machine */
  cpuMs(): number;
  stop(): Promise<void>;
}

export interface ThreadloomOptions {
  /** the config file's content (written as JSON5) */
  config: Record<string, unknown>;
  env?: Record<string, string>;
  /** run in this data directory (made and removed here when absent) */
  dataDir?: string;
  /** called before the spawn, with the data directory: seed the database here */
  prepare?: (dataDir: string) => Promise<void>;
  /** every line the process logs (stderr), with the ms since the spawn: to time lines other than "ready" */
  onLine?: (line: string, msSinceSpawn: number) => void;
}

/** Reads VmRSS, RssAnon and RssFile of a process, in MB. */
export function processMemory(pid: number): { rssMb: number; anonMb: number; fileMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, anonMb: kb('RssAnon') / 1024, fileMb: (kb('RssFile') + kb('RssShmem')) / 1024 };
}

/** User + system CPU time of a process, in ms (from /proc/<pid>/stat, in clock ticks of 10 ms). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the fields after the command name, which is in parentheses and may hold spaces
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export async function startThreadloom(options: ThreadloomOptions): Promise<ThreadloomProcess> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'threadloom-bench-'));
  const configFile = path.join(dataDir, 'bench.config.json5');
  writeFileSync(configFile, JSON.stringify(options.config));
  await options.prepare?.(dataDir);
  const spawnedAt = performance.now();
  // THREADLOOM_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the Threadloom process
  const nodeArgs = process.env.THREADLOOM_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist/src/main.js')], {
    env: {
      // as the Docker image and the systemd unit run it (docs/deploy.md, "Memory: what top shows")
      MALLOC_ARENA_MAX: '2',
      ...process.env,
      THREADLOOM_DATA_DIR: dataDir,
      THREADLOOM_CONFIG: configFile,
      THREADLOOM_ADMIN_HOST: '127.0.0.1',
      THREADLOOM_ADMIN_PORT: '0',
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const tail: string[] = [];
  const ready = new Promise<{ internal: number; url: string }>((resolve, reject) => {
    let url = '';
    const timer = setTimeout(() => reject(new Error(`threadloom was not ready within 30 s:\n${tail.join('\n')}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`threadloom exited with ${code} before it was ready:\n${tail.join('\n')}`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      options.onLine?.(line, performance.now() - spawnedAt);
      tail.push(line);
      if (tail.length > 30) tail.shift();
      const listening = /admin web listening on (http:\/\/[^/\s"]+)/.exec(line);
      if (listening) url = listening[1]!;
      // "threadloom ready", not the Matrix adapter's own "ready in N ms"
      const m = /threadloom ready in (\d+) ms/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ internal: Number(m[1]), url });
      }
    });
  });
  // a process that never said ready is not left running behind a failed benchmark
  const said = await ready.catch((error: unknown) => {
    child.kill('SIGKILL');
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  });
  const readyWallMs = performance.now() - spawnedAt;
  child.removeAllListeners('exit');
  return {
    child,
    dataDir,
    adminUrl: said.url,
    readyWallMs,
    readyInternalMs: said.internal,
    memory: () => processMemory(child.pid!),
    cpuMs: () => processCpuMs(child.pid!),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Seeds the data directory's database (built code) before the spawn: an API token, and the
 * default Experience with a window that stays full (no summary calls), as a running chat has.
 */
export async function seedDatabase(dataDir: string, databaseUrl: string | null = null): Promise<{ token: string }> {
  const { databaseFile, openConfiguredDatabase } = await import(path.join(ROOT, 'dist/src/core/db/open.js'));
  const { migrateToLatest } = await import(path.join(ROOT, 'dist/src/core/db/migrate.js'));
  const { createApiToken } = await import(path.join(ROOT, 'dist/src/core/api-tokens.js'));
  const { ExperienceService } = await import(path.join(ROOT, 'dist/src/core/experiences/service.js'));
  // on PostgreSQL (bench:scale) the instances share the database seeded once
  const database = openConfiguredDatabase({ url: databaseUrl, file: databaseFile(dataDir) });
  await migrateToLatest(database.db);
  const { token } = await createApiToken(database.db, 'bench');
  const experiences = new ExperienceService(database.db);
  await experiences.defaultExperience();
  await experiences.update('general', { contextPolicy: { maxMessages: 20, tokenBudget: null, summarize: false } });
  await database.close();
  return { token };
}
