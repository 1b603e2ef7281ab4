/**
 * What a whole Threadloom turn adds on top of the bare SDK call, and how it holds under load.
 *   (a) the fake OpenAI server streamed directly through the openai SDK
 *   (b) the same stream through a whole turn: inbound → context → route → renderer → persisted
 * Then 200 conversations streaming at once (event-loop delay, peak RSS), and start-to-ready time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import OpenAI from 'openai';
import { loadConfig } from '../src/core/config.js';
import { silentLogger } from '../src/core/log.js';
import { startRuntime } from '../src/core/runtime.js';
import { NullReply, message } from './chat.js';
import { figure, summarise } from './stats.js';

const TURNS = 300;
const CONCURRENT = 200;
// the build must be current: npm run bench:turn builds first
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function startFake(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [...process.execArgv, path.join(ROOT, 'bench/fake-openai-server.ts')], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    createInterface({ input: child.stdout! }).once('line', (url) => resolve({ url, child }));
  });
}

async function directTurn(client: OpenAI): Promise<number> {
  const start = performance.now();
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'count to two hundred' }],
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  if (text.length === 0) throw new Error('empty answer');
  return performance.now() - start;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-bench-turn-'));
  const fast = await startFake({ ANSWER_TOKENS: '200' });
  const config = loadConfig({ THREADLOOM_DATA_DIR: dir, THREADLOOM_DEFAULT_MODEL: 'openai/gpt-4o-mini', OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: fast.url });
  const runtime = await startRuntime(
    { ...config, limits: { userTurnsPerMinute: 1_000_000 }, providers: { openai: { ...config.providers.openai!, maxConcurrent: 1000 } } },
    { log: silentLogger },
  );
  // a running conversation whose window stays full: no summary calls, one title call at the start
  await runtime.deps.experiences.update('general', { contextPolicy: { maxMessages: 20, tokenBudget: null, summarize: false } });

  const client = new OpenAI({ apiKey: 'sk-bench', baseURL: fast.url, maxRetries: 0 });
  const reply = new NullReply();
  for (let i = 0; i < 30; i++) {
    await directTurn(client);
    await runtime.engine.handle(message('warm', 'count to two hundred'), reply);
  }
  const direct: number[] = [];
  const whole: number[] = [];
  for (let i = 0; i < TURNS; i++) {
    // interleaved, so drift on a shared machine hits both alike
    direct.push(await directTurn(client));
    const start = performance.now();
    await runtime.engine.handle(message('ada', 'count to two hundred'), reply);
    whole.push(performance.now() - start);
  }
  const a = summarise(direct);
  const b = summarise(whole);
  const added = summarise(whole.map((w, i) => w - direct[i]!));
  const answers = await runtime.deps.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('role', '=', 'assistant').where('status', '=', 'complete').executeTakeFirstOrThrow();
  figure('turns', TURNS, 'turns', 0);
  figure('direct_sdk_median', a.median, 'ms');
  figure('direct_sdk_p99', a.p99, 'ms');
  figure('threadloom_turn_median', b.median, 'ms');
  figure('threadloom_turn_p99', b.p99, 'ms');
  figure('added_latency_median', b.median - a.median, 'ms');
  figure('added_latency_p99', added.p99, 'ms');
  figure('turn_vs_direct_ratio', b.median / a.median, 'x');
  figure('answers_persisted', Number(answers.n), 'answers', 0);
  await runtime.close();
  fast.child.stdin!.end();

  // 200 conversations at once, each streaming 200 tokens over ~2 s (plus its short title call), in a
  // fresh process on the build; then the same 400 streams through the bare SDK as the baseline
  for (const mode of ['sdk', 'threadloom']) {
    const paced = await startFake({ ANSWER_TOKENS: '200', CHUNK_DELAY_MS: '10' });
    const load = spawn(process.execPath, [path.join(ROOT, 'bench/turn-load.mjs'), paced.url, mode], {
      env: { ...process.env, CONCURRENT: String(CONCURRENT) },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    await new Promise((resolve) => load.once('exit', resolve));
    paced.child.stdin!.end();
  }

  // start-to-ready: a fresh process on a fresh data directory, as `npm start` runs it
  const readyDir = mkdtempSync(path.join(tmpdir(), 'threadloom-bench-ready-'));
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/main.js')], {
    env: { ...process.env, THREADLOOM_DATA_DIR: readyDir, THREADLOOM_CONFIG: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const internal = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`threadloom exited with ${code} before it was ready`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const m = /ready in (\d+) ms/.exec(line);
      if (m) resolve(Number(m[1]));
    });
  });
  figure('start_to_ready_wall', performance.now() - spawnedAt, 'ms', 0);
  figure('start_to_ready_internal', internal, 'ms', 0);
  child.kill('SIGTERM');
  for (const d of [dir, readyDir]) rmSync(d, { recursive: true, force: true });
}

await main();
