/**
 * Start to ready of the shipped build (`node dist/src/main.js`) with Discord, Slack (Socket Mode)
 * and Matrix configured against the fakes, which run in this process; beside it, the same start
 * with no platform, in the same run. Each start is a fresh process on a fresh data directory.
 * "ready" is logged once every configured platform has connected, so spawn → ready is also
 * spawn → all three connected; each platform's own "connected" line is timed too. Also a restart
 * on the same data directory (what a user feels on every restart after the first), and each
 * platform alone. Then where the time goes: loading main.ts's and serve.ts's modules and each
 * adapter's SDK in serve.ts's order, in a fresh process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFakeDiscord, type FakeDiscord } from '../test/fakes/discord/index.js';
import { startFakeMatrix, type FakeMatrix } from '../test/fakes/matrix/index.js';
import { startFakeSlack, type FakeSlack } from '../test/fakes/slack/index.js';
import { ROOT, startFakeProvider, startThreadloom, type FakeProvider, type ThreadloomProcess } from './process.js';
import { figure, spread } from './stats.js';

const STARTS = Number(process.env.START_RUNS ?? 5);
const PLATFORMS = ['discord', 'slack', 'matrix'] as const;
type Platform = (typeof PLATFORMS)[number];

interface Start {
  readyWallMs: number;
  readyInternalMs: number;
  /** spawn → the platform's "connected" line */
  connectedMs: Partial<Record<Platform, number>>;
  /** the Matrix adapter's own "ready in N ms" (its start alone) */
  matrixOwnMs: number;
  /** CPU time (user + system) the process had used by ready: steadier than wall time on a shared machine */
  cpuMs: number;
  anonMb: number;
  fileMb: number;
  /** the process's own account at ready (its /metrics): V8 heap in use and allocated, and memory outside it (buffers) */
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

interface Fakes {
  discord: FakeDiscord;
  slack: FakeSlack;
  matrix: FakeMatrix;
}

async function startFakes(): Promise<Fakes> {
  const [discord, slack, matrix] = await Promise.all([startFakeDiscord(), startFakeSlack(), startFakeMatrix()]);
  return { discord, slack, matrix };
}

function platformConfig(fakes: Fakes, only: readonly Platform[] = PLATFORMS): Record<string, unknown> {
  const bot = fakes.matrix.registerUser('threadloom', { displayName: 'Threadloom' });
  const all: Record<Platform, unknown> = {
    discord: { token: 'bench-token', apiBaseURL: fakes.discord.apiUrl },
    slack: { botToken: fakes.slack.botToken, appToken: fakes.slack.appToken, apiURL: fakes.slack.apiUrl },
    matrix: { homeserverURL: fakes.matrix.url, accessToken: bot.accessToken, deviceId: bot.deviceId, storeKey: 'a bench store key, not secret' },
  };
  return Object.fromEntries(only.map((platform) => [platform, all[platform]]));
}

/** the admin password a first start generates and logs, by data directory: /metrics asks for it */
const passwords = new Map<string, string>();

async function heapAtReady(threadloom: ThreadloomProcess): Promise<Pick<Start, 'heapUsedMb' | 'heapTotalMb' | 'externalMb'>> {
  const authorization = `Basic ${Buffer.from(`admin:${passwords.get(threadloom.dataDir)}`).toString('base64')}`;
  const response = await fetch(`${threadloom.adminUrl}/metrics`, { headers: { authorization } });
  const text = await response.text();
  const mb = (metric: string) => Number(new RegExp(`^${metric} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1024 / 1024;
  return { heapUsedMb: mb('nodejs_heap_size_used_bytes'), heapTotalMb: mb('nodejs_heap_size_total_bytes'), externalMb: mb('nodejs_external_memory_bytes') };
}

/** One start to ready, then a stop; on `dataDir` when given (kept), else on a fresh one (removed). */
async function timedStart(provider: FakeProvider, platforms: Record<string, unknown>, dataDir?: string): Promise<Start> {
  const connectedMs: Start['connectedMs'] = {};
  let matrixOwnMs = NaN;
  let generated = '';
  let threadloom: ThreadloomProcess | null = null;
  try {
    threadloom = await startThreadloom({
      config: {
        defaultModel: 'openai/gpt-4o-mini',
        providers: { openai: { kind: 'openai', baseURL: provider.url, apiKey: 'sk-bench' } },
        ...platforms,
      },
      ...(dataDir ? { dataDir } : {}),
      onLine: (line, ms) => {
        const connected = /"msg":"(discord|slack|matrix): connected as/.exec(line);
        if (connected) connectedMs[connected[1] as Platform] = ms;
        const own = /matrix: connected as .*ready in (\d+) ms/.exec(line);
        if (own) matrixOwnMs = Number(own[1]);
        const password = /admin password generated \(shown only this once\): (\S+)/.exec(line);
        if (password) generated = password[1]!;
      },
    });
    const memory = threadloom.memory();
    if (generated) passwords.set(threadloom.dataDir, generated);
    const cpuMs = threadloom.cpuMs();
    const heap = await heapAtReady(threadloom);
    return { readyWallMs: threadloom.readyWallMs, readyInternalMs: threadloom.readyInternalMs, connectedMs, matrixOwnMs, cpuMs, anonMb: memory.anonMb, fileMb: memory.fileMb, ...heap };
  } finally {
    await threadloom?.stop();
  }
}

/**
 * Loading what main.ts and serve.ts load, in their order, in a fresh node process: main.ts's own
 * imports (the config and the data dir's lock) with serve.ts's (core and admin web), then each
 * platform adapter with its SDK one after the other, then the Matrix crypto's WebAssembly set up.
 * In ms each; the process's own start left out.
 */
const LOAD_STEPS = [
  ['main_imports', ['dist/src/core/config.js', 'dist/src/core/data-dir-lock.js', 'dist/src/serve.js'].map((file) => `await import(${JSON.stringify(path.join(ROOT, file))});`).join(' ')],
  ['discord_adapter', `await import(${JSON.stringify(path.join(ROOT, 'dist/src/bots/discord/index.js'))});`],
  ['slack_adapter', `await import(${JSON.stringify(path.join(ROOT, 'dist/src/bots/slack/index.js'))});`],
  ['matrix_adapter', `await import(${JSON.stringify(path.join(ROOT, 'dist/src/bots/matrix/index.js'))});`],
  ['matrix_crypto_wasm_init', "await (await import('@matrix-org/matrix-sdk-crypto-wasm')).initAsync();"],
] as const;

function loadTimes(): Promise<number[]> {
  const script = LOAD_STEPS.map(([, step]) => `{ const t = performance.now(); ${step} console.log(performance.now() - t); }`).join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (data: Buffer) => (out += data.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').map(Number)) : reject(new Error(`loading the build's modules failed with ${code}`))));
  });
}

const median = (values: number[]) => spread(values).median;
const max = (values: number[]) => Math.max(...values);

/** The three platforms against fresh fakes: a first start on a fresh data directory, then a restart on it. */
async function platformStarts(provider: FakeProvider, only: readonly Platform[], restart: boolean): Promise<Start[]> {
  const fakes = await startFakes();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-bench-start-'));
  try {
    const config = platformConfig(fakes, only);
    const starts = [await timedStart(provider, config, dataDir)];
    if (restart) starts.push(await timedStart(provider, config, dataDir));
    return starts;
  } finally {
    await Promise.all([fakes.discord.close(), fakes.slack.close(), fakes.matrix.close()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function reportStarts(name: string, starts: Start[], platforms: readonly Platform[]): void {
  figure(`${name}_ready_wall_median`, median(starts.map((s) => s.readyWallMs)), 'ms', 0);
  figure(`${name}_ready_wall_max`, max(starts.map((s) => s.readyWallMs)), 'ms', 0);
  figure(`${name}_ready_internal_median`, median(starts.map((s) => s.readyInternalMs)), 'ms', 0);
  figure(`${name}_cpu_at_ready_median`, median(starts.map((s) => s.cpuMs)), 'ms', 0);
  for (const platform of platforms) figure(`${name}_${platform}_connected_median`, median(starts.map((s) => s.connectedMs[platform] ?? NaN)), 'ms', 0);
  if (platforms.includes('matrix')) figure(`${name}_matrix_own_start_median`, median(starts.map((s) => s.matrixOwnMs)), 'ms', 0);
  figure(`${name}_anon_rss_median`, median(starts.map((s) => s.anonMb)), 'MB', 1);
  figure(`${name}_anon_rss_max`, max(starts.map((s) => s.anonMb)), 'MB', 1);
  figure(`${name}_file_rss_median`, median(starts.map((s) => s.fileMb)), 'MB', 1);
  figure(`${name}_heap_used_median`, median(starts.map((s) => s.heapUsedMb)), 'MB', 1);
  figure(`${name}_heap_total_median`, median(starts.map((s) => s.heapTotalMb)), 'MB', 1);
  figure(`${name}_external_median`, median(starts.map((s) => s.externalMb)), 'MB', 1);
}

async function main(): Promise<void> {
  const provider = await startFakeProvider({ ANSWER_TOKENS: '5' });
  try {
    const bare: Start[] = [];
    const first: Start[] = [];
    const again: Start[] = [];
    const alone = new Map<Platform, Start[]>(PLATFORMS.map((p) => [p, []]));
    for (let i = 0; i < STARTS; i++) {
      // alternated, so drift on a shared machine hits all alike
      bare.push(await timedStart(provider, {}));
      const [fresh, restarted] = await platformStarts(provider, PLATFORMS, true);
      first.push(fresh!);
      again.push(restarted!);
      // what each platform adds alone, on a fresh data directory
      for (const platform of PLATFORMS) alone.get(platform)!.push(...(await platformStarts(provider, [platform], false)));
    }
    reportStarts('start_bare', bare, []);
    reportStarts('start_platforms', first, PLATFORMS);
    reportStarts('restart_platforms', again, PLATFORMS);
    for (const [platform, starts] of alone) reportStarts(`start_${platform}_alone`, starts, [platform]);

    // where the time goes: loading, as main.ts loads, in fresh processes
    const loads: number[][] = [];
    for (let i = 0; i < STARTS; i++) loads.push(await loadTimes());
    LOAD_STEPS.forEach(([name], step) => figure(`load_${name}_median`, median(loads.map((times) => times[step]!)), 'ms', 0));
  } finally {
    provider.close();
  }
}

await main();
