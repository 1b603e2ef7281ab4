import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/core/metrics.js';
import { PlatformStatusBoard } from '../../src/core/platforms.js';
import { RecordingReply, inbound } from '../support/reply.js';
import { ADMIN_PASSWORD, startTestAdmin, usageEvent, type TestAdmin } from '../support/admin.js';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
// prom-client writes NaN as "Nan"; Prometheus reads values with Go's ParseFloat, which ignores case
const SAMPLE = new RegExp(`^(${NAME})(\\{${LABEL}(?:,${LABEL})*\\})? (-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?|\\+Inf|-Inf|[Nn]a[Nn])$`);
const COMMENT = new RegExp(`^# (HELP|TYPE) (${NAME})( .*)?$`);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the exposition, failing on any line that is neither a sample nor a HELP/TYPE comment. */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  expect(text.endsWith('\n')).toBe(true);
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.slice(0, -1).split('\n')) {
    // the format allows empty lines; prom-client puts one between families
    if (line === '') continue;
    const comment = COMMENT.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') types.set(comment[2]!, comment[3]!.trim());
      continue;
    }
    const sample = SAMPLE.exec(line);
    expect(sample, `not a Prometheus line: ${JSON.stringify(line)}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const m of (sample![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
    const name = sample![1]!;
    const family = name.replace(/_(bucket|sum|count)$/, '');
    expect(types.has(name) || types.has(family), `no TYPE before ${name}`).toBe(true);
    samples.push({ name, labels, value: sample![3] === '+Inf' ? Infinity : Number(sample![3]) });
  }
  return { samples, types };
}

function find(samples: Sample[], name: string, labels: Record<string, string>): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function basicAuth(password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`prometheus:${password}`).toString('base64')}` };
}

let admin: TestAdmin | undefined;
afterEach(async () => {
  await admin?.close();
  admin = undefined;
});

describe('/metrics', () => {
  it('should count a turn run through the engine, with its tokens, latency and time to first token', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    const before = parse((await session.get('/metrics')).body);
    expect(find(before.samples, 'threadloom_turns_total', {})).toHaveLength(0);

    admin.rt.openai.script({ answer: 'Use ss -tlnp.', usage: { input: 120, output: 12 } });
    await admin.rt.engine.handle(inbound('which ports are open?'), new RecordingReply());

    const response = await session.get('/metrics');
    expect(response.headers['content-type']).toContain('text/plain; version=0.0.4');
    const { samples, types } = parse(response.body);
    expect(types.get('threadloom_turns_total')).toBe('counter');
    expect(types.get('threadloom_turn_latency_seconds')).toBe('histogram');
    expect(types.get('threadloom_time_to_first_token_seconds')).toBe('histogram');
    const labels = { provider: 'openai', model: 'openai/gpt-4o-mini', platform: 'test' };
    expect(find(samples, 'threadloom_turns_total', { ...labels, status: 'ok' }).map((s) => s.value)).toEqual([1]);
    expect(find(samples, 'threadloom_tokens_total', { ...labels, purpose: 'chat', direction: 'in' }).map((s) => s.value)).toEqual([120]);
    expect(find(samples, 'threadloom_tokens_total', { ...labels, purpose: 'chat', direction: 'out' }).map((s) => s.value)).toEqual([12]);
    for (const histogram of ['threadloom_turn_latency_seconds', 'threadloom_time_to_first_token_seconds']) {
      expect(find(samples, `${histogram}_count`, labels).map((s) => s.value)).toEqual([1]);
      const buckets = find(samples, `${histogram}_bucket`, labels);
      expect(buckets.at(-1)!.labels.le).toBe('+Inf');
      expect(buckets.at(-1)!.value).toBe(1);
      // cumulative: never decreasing
      buckets.reduce((previous, b) => (expect(b.value).toBeGreaterThanOrEqual(previous), b.value), 0);
    }
  });

  it('should count provider errors and the failed turn', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    admin.rt.openai.script({ status: 500 }, { status: 500 }, { status: 500 });
    await admin.rt.engine.handle(inbound('hello?'), new RecordingReply());
    const { samples } = parse((await session.get('/metrics')).body);
    const labels = { provider: 'openai', model: 'openai/gpt-4o-mini', platform: 'test' };
    expect(find(samples, 'threadloom_errors_total', labels)[0]!.value).toBeGreaterThanOrEqual(1);
    expect(find(samples, 'threadloom_turns_total', { ...labels, status: 'error' }).map((s) => s.value)).toEqual([1]);
    expect(find(samples, 'threadloom_turn_latency_seconds_count', labels)).toHaveLength(0);
  });

  it('should keep the names, help texts, types and labels that dashboards query', async () => {
    admin = await startTestAdmin();
    admin.rt.metrics.observeUsage([usageEvent({ status: 'error' }), usageEvent({ latency_ms: 900, ttft_ms: 200 })]);
    const response = await admin.app.inject({ method: 'GET', url: '/metrics', headers: basicAuth(ADMIN_PASSWORD) });
    expect(response.statusCode).toBe(200);
    // written down from the hand-written exposition this replaced
    expect(response.body.split('\n').filter((l) => l.startsWith('# ') && l.includes(' threadloom_'))).toEqual([
      '# HELP threadloom_turns_total Chat turns answered (or failed), by the provider and model that answered last.',
      '# TYPE threadloom_turns_total counter',
      '# HELP threadloom_provider_calls_total Calls to model providers, by purpose and outcome.',
      '# TYPE threadloom_provider_calls_total counter',
      '# HELP threadloom_tokens_total Tokens sent to (in) and received from (out) model providers, by purpose (chat, title, summary).',
      '# TYPE threadloom_tokens_total counter',
      '# HELP threadloom_errors_total Provider calls that failed.',
      '# TYPE threadloom_errors_total counter',
      '# HELP threadloom_cost_usd_total Cost of provider calls in US dollars, at the prices known when they were made.',
      '# TYPE threadloom_cost_usd_total counter',
      '# HELP threadloom_turn_latency_seconds Time from request to the last token of a chat answer.',
      '# TYPE threadloom_turn_latency_seconds histogram',
      '# HELP threadloom_time_to_first_token_seconds Time from request to the first token of a chat answer.',
      '# TYPE threadloom_time_to_first_token_seconds histogram',
      '# HELP threadloom_platform_connected Whether a chat platform is connected (1) or not (0).',
      '# TYPE threadloom_platform_connected gauge',
    ]);
    const { samples } = parse(response.body);
    const labelNames = new Map<string, string>();
    for (const s of samples.filter((s) => s.name.startsWith('threadloom_'))) {
      const names = Object.keys(s.labels).sort().join(',');
      expect(labelNames.get(s.name) ?? names, s.name).toBe(names);
      labelNames.set(s.name, names);
    }
    const call = 'model,platform,provider';
    expect(Object.fromEntries(labelNames)).toEqual({
      threadloom_turns_total: `${call},status`,
      threadloom_provider_calls_total: `${call},purpose,status`,
      threadloom_tokens_total: `direction,${call},purpose`,
      threadloom_errors_total: call,
      threadloom_cost_usd_total: call,
      threadloom_turn_latency_seconds_bucket: `le,${call}`,
      threadloom_turn_latency_seconds_sum: call,
      threadloom_turn_latency_seconds_count: call,
      threadloom_time_to_first_token_seconds_bucket: `le,${call}`,
      threadloom_time_to_first_token_seconds_sum: call,
      threadloom_time_to_first_token_seconds_count: call,
      threadloom_platform_connected: 'platform',
    });
    expect(find(samples, 'threadloom_turn_latency_seconds_bucket', {}).map((s) => s.labels.le)).toEqual(['0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '120', '300', '+Inf']);
    expect(find(samples, 'threadloom_time_to_first_token_seconds_bucket', {}).map((s) => s.labels.le)).toEqual(['0.05', '0.1', '0.25', '0.5', '1', '2', '5', '10', '30', '+Inf']);
  });

  it('should add the process metrics (heap, event-loop lag, GC, open fds), each name once', async () => {
    admin = await startTestAdmin();
    const response = await admin.app.inject({ method: 'GET', url: '/metrics', headers: basicAuth(ADMIN_PASSWORD) });
    const { samples, types } = parse(response.body);
    expect(types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
    expect(types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(types.get('nodejs_gc_duration_seconds')).toBe('histogram');
    expect(types.get('process_open_fds')).toBe('gauge');
    expect(types.get('process_cpu_seconds_total')).toBe('counter');
    expect(find(samples, 'nodejs_heap_size_used_bytes', {})[0]!.value).toBeGreaterThan(0);
    const typeLines = response.body.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(typeLines.map((l) => l.split(' ')[2])).size).toBe(typeLines.length);
  });

  it('should report each platform as connected or not', async () => {
    admin = await startTestAdmin();
    admin.ctx.platforms.set('slack', 'connected', 'socket mode');
    const { samples } = parse((await (await admin.login()).get('/metrics')).body);
    expect(find(samples, 'threadloom_platform_connected', { platform: 'slack' })[0]!.value).toBe(1);
    expect(find(samples, 'threadloom_platform_connected', { platform: 'discord' })[0]!.value).toBe(0);
  });
});

describe(Metrics.name, () => {
  it('should escape label values so the exposition still parses', async () => {
    const metrics = new Metrics();
    metrics.observeUsage([usageEvent({ provider: 'lm"studio', model: 'a\\b\nc', platform: null, tokens_in: 1, tokens_out: 2, latency_ms: 1500, ttft_ms: 100 })]);
    const { samples } = parse(await metrics.render());
    const turn = find(samples, 'threadloom_turns_total', {})[0]!;
    expect(turn.labels).toEqual({ provider: 'lm"studio', model: 'a\\b\nc', platform: 'none', status: 'ok' });
    const le = find(samples, 'threadloom_turn_latency_seconds_bucket', {}).map((s) => [s.labels.le, s.value]);
    expect(le).toContainEqual(['1', 0]);
    expect(le).toContainEqual(['2.5', 1]);
    expect(find(samples, 'threadloom_turn_latency_seconds_sum', {})[0]!.value).toBe(1.5);
  });

  it('should count one turn per batch, the last try deciding its status', async () => {
    const metrics = new Metrics();
    const base = { platform: 'discord', tokens_in: 10 };
    metrics.observeUsage([
      usageEvent({ ...base, provider: 'openai', model: 'openai/gpt-4o', status: 'error' }),
      usageEvent({ ...base, provider: 'ollama', model: 'ollama/llama3.2', status: 'fallback', latency_ms: 2000, ttft_ms: 500 }),
    ]);
    const ollama = { provider: 'ollama', model: 'ollama/llama3.2', platform: 'discord' };
    const openai = { provider: 'openai', model: 'openai/gpt-4o', platform: 'discord' };
    let { samples } = parse(await metrics.render());
    expect(find(samples, 'threadloom_turns_total', {}).map((s) => [s.labels, s.value])).toEqual([[{ ...ollama, status: 'fallback' }, 1]]);
    expect(find(samples, 'threadloom_errors_total', {}).map((s) => [s.labels, s.value])).toEqual([[openai, 1]]);
    // a title generation is a provider call, not a turn
    metrics.observeUsage([usageEvent({ ...base, purpose: 'title', provider: 'ollama', model: 'ollama/llama3.2' })]);
    ({ samples } = parse(await metrics.render()));
    expect(find(samples, 'threadloom_turns_total', { ...ollama, status: 'ok' })).toHaveLength(0);
    expect(find(samples, 'threadloom_provider_calls_total', { ...ollama, purpose: 'title', status: 'ok' }).map((s) => s.value)).toEqual([1]);
  });

  it('should drop a negative or non-numeric amount instead of losing the rest of the batch', async () => {
    const metrics = new Metrics();
    metrics.observeUsage([
      usageEvent({ tokens_in: -5, cost_usd: Number.NaN, latency_ms: -1, ttft_ms: Number.POSITIVE_INFINITY }),
      usageEvent({ tokens_in: 7, cost_usd: 0.5, latency_ms: 1000, ttft_ms: 100 }),
    ]);
    const { samples } = parse(await metrics.render());
    expect(find(samples, 'threadloom_tokens_total', { direction: 'in' }).map((s) => s.value)).toEqual([7]);
    expect(find(samples, 'threadloom_cost_usd_total', {}).map((s) => s.value)).toEqual([0.5]);
    expect(find(samples, 'threadloom_turn_latency_seconds_count', {}).map((s) => s.value)).toEqual([1]);
    expect(find(samples, 'threadloom_time_to_first_token_seconds_count', {}).map((s) => s.value)).toEqual([1]);
    expect(find(samples, 'threadloom_turns_total', {}).map((s) => s.value)).toEqual([1]);
  });

  it('should keep the series of two instances apart, as two runtimes in one process have', async () => {
    const first = new Metrics();
    const second = new Metrics();
    first.observeUsage([usageEvent()]);
    expect(find(parse(await first.render()).samples, 'threadloom_turns_total', {}).map((s) => s.value)).toEqual([1]);
    expect(find(parse(await second.render()).samples, 'threadloom_turns_total', {})).toHaveLength(0);
  });

  it('should leave nothing behind that keeps the process alive', async () => {
    const before = process.getActiveResourcesInfo();
    const metrics = new Metrics(new PlatformStatusBoard(() => new Date()));
    await metrics.render();
    // the event-loop lag gauge is read on the next turn of the loop; let that run first
    await new Promise((resolve) => setImmediate(resolve));
    const after = process.getActiveResourcesInfo();
    for (const kind of new Set([...before, ...after])) expect(after.filter((k) => k === kind).length, kind).toBeLessThanOrEqual(before.filter((k) => k === kind).length);
  });
});

describe(PlatformStatusBoard.name, () => {
  it('should list the known platforms as off until they report, keeping the time a state began', () => {
    let now = new Date('2026-11-22T10:00:00Z');
    const board = new PlatformStatusBoard(() => now);
    expect(board.list().map((p) => [p.platform, p.state])).toEqual([
      ['discord', 'off'],
      ['slack', 'off'],
      ['matrix', 'off'],
    ]);
    board.set('matrix', 'connected', 'synced');
    now = new Date('2026-11-22T10:05:00Z');
    board.set('matrix', 'connected', 'synced again');
    board.set('console', 'connected', 'stdin');
    expect(board.get('matrix')).toMatchObject({ state: 'connected', detail: 'synced again', since: new Date('2026-11-22T10:00:00Z') });
    expect(board.list().map((p) => p.platform)).toEqual(['discord', 'slack', 'matrix', 'console']);
  });
});
