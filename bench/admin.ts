/**
 * The admin usage page on a big ledger: 1,000,000 usage rows over a year (10 models, 20
 * Experiences, 3 platforms, 500 users with a long-tailed activity) in a real SQLite file, written
 * in one transaction through the rollup triggers. Prints the insert time, then the whole page
 * through the admin app (app.inject, signed in) for the default 30 days and for 365 days (median,
 * p95), the report alone, and the same report computed with plain GROUP BYs over usage_events: the
 * baseline the rollups are measured against. BENCH_USAGE_ROWS and BENCH_RUNS make it smaller.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { adminContext, buildAdminApp } from '../src/admin/index.js';
import { loadConfig } from '../src/core/config.js';
import { requireSqlite } from '../src/core/db/open.js';
import { silentLogger } from '../src/core/log.js';
import { startRuntime } from '../src/core/runtime.js';
import { addUtcDays as addDays, utcDay as dayOf } from '../src/core/format/utc.js';
import { lastDays, type UsageRange } from '../src/core/usage/range.js';
import { usageReport } from '../src/core/usage/report.js';
import { cookieFrom, postLogin } from '../test/support/admin.js';
import { figure, quantile } from './stats.js';

const ROWS = Number(process.env.BENCH_USAGE_ROWS ?? 1_000_000);
const DAYS = 365;
const USERS = 500;
const EXPERIENCES = 20;
const RUNS = Number(process.env.BENCH_RUNS ?? 60);
const BASELINE_RUNS = 3;

const MODELS: Array<[model: string, usdPerMillionIn: number, usdPerMillionOut: number]> = [
  ['openai/gpt-4o-mini', 0.15, 0.6],
  ['openai/gpt-4o', 2.5, 10],
  ['openai/gpt-4.1-mini', 0.4, 1.6],
  ['openai/gpt-5-mini', 0.25, 2],
  ['anthropic/claude-haiku-4-5', 1, 5],
  ['anthropic/claude-sonnet-4', 3, 15],
  ['ollama/llama3.2', 0, 0],
  ['ollama/qwen2.5:7b', 0, 0],
  ['ollama/mistral', 0, 0],
  ['ollama/nomic-embed-text', 0, 0],
];
const PLATFORMS = ['discord', 'slack', 'matrix'];

let seed = 7;
const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const PASSWORD = 'bench admin password';

const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-bench-admin-'));
// the whole runtime over a real file (no model providers: the usage page needs none)
const config = loadConfig({ THREADLOOM_DATA_DIR: dir, THREADLOOM_DEFAULT_MODEL: 'ollama/llama3.2', OLLAMA_HOST: 'http://127.0.0.1:9' });
const runtime = await startRuntime(config, { log: silentLogger, providers: new Map() });
const database = requireSqlite(runtime.database, 'bench:admin');

// 20 Experiences, each with its own chat model (the embedding model is nobody's chat model)
const experienceModel: number[] = [];
const insertExperience = database.sqlite.prepare('INSERT INTO experiences (slug, name, persona_name) VALUES (?, ?, ?)');
for (let e = 0; e < EXPERIENCES; e++) {
  insertExperience.run(`bench-${e}`, `Bench Experience ${e}`, 'Bench');
  experienceModel.push(e % (MODELS.length - 1));
}
const experienceIds = (database.sqlite.prepare("SELECT id FROM experiences WHERE slug LIKE 'bench-%' ORDER BY id").all() as Array<{ id: number }>).map((r) => r.id);

// users: a home platform, two or three favourite Experiences, and a long-tailed (Zipf) activity
const users = Array.from({ length: USERS }, (_, u) => ({
  id: `user-${u}`,
  platform: PLATFORMS[u % 3]!,
  experiences: Array.from({ length: 2 + (u % 2) }, () => Math.floor(random() * EXPERIENCES)),
}));
const weights = users.map((_, u) => 1 / (u + 1) ** 0.9);
const cumulative: number[] = [];
weights.reduce((sum, w, i) => (cumulative[i] = sum + w), 0);
const totalWeight = cumulative[cumulative.length - 1]!;
function pickUser(): (typeof users)[number] {
  const target = random() * totalWeight;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return users[lo]!;
}

const insert = database.sqlite.prepare(
  `INSERT INTO usage_events (created_at, platform, user_id, experience_id, conversation_id, message_id, provider, model, purpose,
     tokens_in, tokens_out, estimated, cost_usd, latency_ms, ttft_ms, status, error)
   VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, NULL)`,
);
const today = dayOf(new Date());
const firstDay = addDays(today, -(DAYS - 1));
const insertStarted = performance.now();
database.sqlite.transaction(() => {
  let written = 0;
  for (let d = 0; d < DAYS; d++) {
    // usage grows over the year: the last day sees about three times the first
    const share = (1 + (2 * d) / (DAYS - 1)) / (2 * DAYS);
    const count = d === DAYS - 1 ? ROWS - written : Math.round(ROWS * share);
    const day = addDays(firstDay, d);
    const seconds = Array.from({ length: count }, () => Math.floor(random() * 86_400)).sort((a, b) => a - b);
    for (const second of seconds) {
      const user = pickUser();
      const experience = pick(user.experiences);
      const roll = random();
      const purpose = roll < 0.85 ? 'chat' : roll < 0.93 ? 'title' : roll < 0.98 ? 'summary' : 'embedding';
      const modelIndex = purpose === 'embedding' ? MODELS.length - 1 : purpose === 'chat' ? (random() < 0.97 ? experienceModel[experience]! : Math.floor(random() * 9)) : 0;
      const [model, priceIn, priceOut] = MODELS[modelIndex]!;
      const tokensIn = 200 + Math.floor(random() * 3800);
      const tokensOut = purpose === 'embedding' ? 0 : 20 + Math.floor(random() * 780);
      const cost = Math.round(((tokensIn * priceIn + tokensOut * priceOut) / 1e6) * 1e8) / 1e8;
      const time = new Date(Date.parse(`${day}T00:00:00Z`) + second * 1000).toISOString();
      insert.run(
        time, user.platform, user.id, experienceIds[experience]!, 1 + Math.floor(random() * 20_000), model.slice(0, model.indexOf('/')), model, purpose,
        tokensIn, tokensOut, cost, 300 + Math.floor(random() * 5000), 80 + Math.floor(random() * 900), random() < 0.02 ? 'error' : 'ok',
      );
    }
    written += count;
  }
})();
const insertMs = performance.now() - insertStarted;
database.sqlite.pragma('optimize');

async function time(runs: number, run: () => Promise<unknown>, warmups = 10): Promise<{ median: number; p95: number }> {
  for (let i = 0; i < warmups; i++) await run(); // warm caches and the JIT
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return { median: quantile(samples, 0.5), p95: quantile(samples, 0.95) };
}

const app = buildAdminApp(adminContext(runtime, { password: PASSWORD }));
await app.ready();
const session = cookieFrom(await postLogin(app, PASSWORD), 'tl_session');
if (!session) throw new Error('could not sign in to the admin app');

const ranges: Array<[label: string, range: UsageRange]> = [
  ['30d', lastDays(new Date(), 30)],
  ['365d', lastDays(new Date(), 365)],
];
const pageUrl = (range: UsageRange): string => `/usage?from=${range.from}&to=${addDays(range.to, -1)}`;

async function page(url: string): Promise<void> {
  const response = await app.inject({ method: 'GET', url, headers: { cookie: session! } });
  if (response.statusCode !== 200 || !response.body.includes('data-figure="events"')) throw new Error(`${url}: ${response.statusCode} ${response.body.slice(0, 200)}`);
}

figure('usage_rows', ROWS, '', 0);
figure('usage_insert_total', insertMs / 1000, 's', 2);
figure('usage_insert_per_row', (insertMs * 1000) / ROWS, 'µs', 2);
for (const table of ['usage_day_model', 'usage_daily', 'usage_monthly', 'usage_user_daily', 'usage_user_monthly', 'usage_user_detail', 'usage_user_detail_monthly']) {
  const { n } = database.sqlite.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number };
  figure(`rollup_rows_${table}`, n, 'rows', 0);
}
for (const [label, range] of ranges) {
  // the whole page: auth, the report, the charts, the template (30d is the page's default range)
  const whole = await time(RUNS, () => page(label === '30d' ? '/usage' : pageUrl(range)));
  figure(`usage_page_${label}_median`, whole.median, 'ms');
  figure(`usage_page_${label}_p95`, whole.p95, 'ms');
  const report = await time(RUNS, () => usageReport(database.db, range));
  figure(`usage_report_${label}_median`, report.median, 'ms');
  const baseline = await time(BASELINE_RUNS, () => usageReport(database.db, range, {}, { fromRawEvents: true }), 1);
  figure(`usage_baseline_group_by_${label}_median`, baseline.median, 'ms');
  figure(`usage_baseline_vs_rollup_${label}_ratio`, baseline.median / report.median, 'x', 1);
}
for (const [label, range] of ranges) {
  const filtered = await time(RUNS, () => page(`${pageUrl(range)}&experience=${experienceIds[3]!}`));
  figure(`usage_page_${label}_one_experience_median`, filtered.median, 'ms');
}
const busiest = await time(RUNS, () => page(`${pageUrl(ranges[1]![1])}&platform=discord&user=user-0`));
figure('usage_page_365d_busiest_user_median', busiest.median, 'ms');

await app.close();
await runtime.close();
rmSync(dir, { recursive: true, force: true });
