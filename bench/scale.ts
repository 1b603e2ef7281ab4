/**
 * Several instances on one PostgreSQL, as issue 21 runs them: turns per second and latency with
 * 1, 2 and 3 Threadloom processes (`node dist/src/main.js`) against the fake provider, the
 * clients spreading their turns over the instances as a load balancer would, beside the same
 * single instance on SQLite, in one run. Each turn is a new chat through `/v1/chat/completions`
 * with the official SDK, streamed (and so named by a second provider call, as new chats are).
 *
 * PostgreSQL: THREADLOOM_BENCH_DATABASE_URL (a server where databases may be created), else the
 * throwaway server of test/postgres/postgres.sh is started (and stopped if this started it).
 * On this 2-core machine the instances, the provider and the clients share two cores: the figure
 * says what one machine gives, not what more machines would.
 */
import { execFileSync } from 'node:child_process';
import OpenAI from 'openai';
import pg from 'pg';
import { ROOT, seedDatabase, startFakeProvider, startThreadloom, type FakeProvider, type ThreadloomProcess } from './process.js';
import { figure, spread } from './stats.js';

const TURNS = Number(process.env.SCALE_TURNS ?? 400);
const CLIENTS = Number(process.env.SCALE_CLIENTS ?? 12);
const WARMUP = 20;

function postgresServer(): { url: string; stop(): void } {
  if (process.env.THREADLOOM_BENCH_DATABASE_URL) return { url: process.env.THREADLOOM_BENCH_DATABASE_URL, stop() {} };
  const script = `${ROOT}/test/postgres/postgres.sh`;
  let running = true;
  try {
    execFileSync('bash', [script, 'status'], { stdio: 'pipe' });
  } catch {
    running = false;
  }
  const out = execFileSync('bash', [script, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const url = /THREADLOOM_TEST_DATABASE_URL=(\S+)/.exec(out)?.[1];
  if (!url) throw new Error(`postgres.sh printed no URL: ${out}`);
  return { url, stop: () => (running ? undefined : void execFileSync('bash', [script, 'stop'], { stdio: 'ignore' })) };
}

async function freshDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await client.query(`CREATE DATABASE "${name}"`);
  await client.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `CLIENTS` clients making `count` new streamed chats in all, turn i on instance i mod n. */
async function load(instances: ThreadloomProcess[], token: string, count: number): Promise<{ wallMs: number; latencies: number[] }> {
  const clients = instances.map((t) => new OpenAI({ apiKey: token, baseURL: `${t.adminUrl}/v1`, maxRetries: 0 }));
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < count; i = next++) {
        const at = performance.now();
        const stream = await clients[i % clients.length]!.chat.completions.create({
          model: 'experience/general', stream: true, messages: [{ role: 'user', content: `question ${i} starts a chat` }],
        });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
        if (!text) throw new Error(`turn ${i}: no answer`);
        latencies.push(performance.now() - at);
      }
    }),
  );
  return { wallMs: performance.now() - started, latencies };
}

async function run(name: string, fake: FakeProvider, count: number, databaseUrl: string | null): Promise<void> {
  const config = {
    defaultModel: 'openai/gpt-4o-mini',
    providers: { openai: { kind: 'openai', baseURL: fake.url, apiKey: 'sk-bench', maxConcurrent: 256 } },
    limits: { userTurnsPerMinute: 1_000_000 },
  };
  let token = '';
  const instances: ThreadloomProcess[] = [];
  try {
    for (let i = 0; i < count; i++) {
      instances.push(
        await startThreadloom({
          config,
          env: databaseUrl ? { THREADLOOM_DATABASE_URL: databaseUrl } : {},
          prepare: i === 0 ? async (dir) => void ({ token } = await seedDatabase(dir, databaseUrl)) : undefined,
        }),
      );
    }
    await load(instances, token, WARMUP * count);
    const cpuBefore = instances.map((t) => t.cpuMs());
    const { wallMs, latencies } = await load(instances, token, TURNS);
    const cpu = instances.reduce((sum, t, i) => sum + t.cpuMs() - cpuBefore[i]!, 0);
    const s = spread(latencies);
    figure(`scale_${name}_turns_per_second`, (TURNS / wallMs) * 1000, 'turns/s', 1);
    figure(`scale_${name}_median`, s.median, 'ms', 1);
    figure(`scale_${name}_p99`, s.p99, 'ms', 1);
    figure(`scale_${name}_cpu_per_turn`, cpu / TURNS, 'ms', 2);
  } finally {
    await Promise.all(instances.map((t) => t.stop()));
  }
}

async function main(): Promise<void> {
  const fake = await startFakeProvider({ ANSWER_TOKENS: '50' });
  const server = postgresServer();
  try {
    figure('scale_clients', CLIENTS, 'clients', 0);
    figure('scale_load_average_before', Number((await import('node:os')).loadavg()[0]), '', 2);
    await run('sqlite_1', fake, 1, null);
    for (const n of [1, 2, 3]) await run(`postgres_${n}`, fake, n, await freshDatabase(server.url, `threadloom_bench_scale_${n}`));
  } finally {
    server.stop();
    fake.close();
  }
}

await main();
