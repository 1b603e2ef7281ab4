import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/core/metrics.js';
import { PlatformStatusBoard } from '../../src/core/platforms.js';
import { RecordingReply, inbound } from '../support/reply.js';
import { startTestAdmin, usageEvent, type TestAdmin } from '../support/admin.js';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const SAMPLE = new RegExp(`^(${NAME})(\\{${LABEL}(?:,${LABEL})*\\})? (-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?|\\+Inf|-Inf|NaN)$`);
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

  it('should report each platform as connected or not', async () => {
    admin = await startTestAdmin();
    admin.ctx.platforms.set('slack', 'connected', 'socket mode');
    const { samples } = parse((await (await admin.login()).get('/metrics')).body);
    expect(find(samples, 'threadloom_platform_connected', { platform: 'slack' })[0]!.value).toBe(1);
    expect(find(samples, 'threadloom_platform_connected', { platform: 'discord' })[0]!.value).toBe(0);
  });
});

describe(Metrics.name, () => {
  it('should escape label values so the exposition still parses', () => {
    const metrics = new Metrics();
    metrics.observeUsage([usageEvent({ provider: 'lm"studio', model: 'a\\b\nc', platform: null, tokens_in: 1, tokens_out: 2, latency_ms: 1500, ttft_ms: 100 })]);
    const { samples } = parse(metrics.render());
    const turn = find(samples, 'threadloom_turns_total', {})[0]!;
    expect(turn.labels).toEqual({ provider: 'lm"studio', model: 'a\\b\nc', platform: 'none', status: 'ok' });
    const le = find(samples, 'threadloom_turn_latency_seconds_bucket', {}).map((s) => [s.labels.le, s.value]);
    expect(le).toContainEqual(['1', 0]);
    expect(le).toContainEqual(['2.5', 1]);
    expect(find(samples, 'threadloom_turn_latency_seconds_sum', {})[0]!.value).toBe(1.5);
  });

  it('should count one turn per batch, the last try deciding its status', () => {
    const metrics = new Metrics();
    const base = { platform: 'discord', tokens_in: 10 };
    metrics.observeUsage([
      usageEvent({ ...base, provider: 'openai', model: 'openai/gpt-4o', status: 'error' }),
      usageEvent({ ...base, provider: 'ollama', model: 'ollama/llama3.2', status: 'fallback', latency_ms: 2000, ttft_ms: 500 }),
    ]);
    expect(metrics.turns.value({ provider: 'ollama', model: 'ollama/llama3.2', platform: 'discord', status: 'fallback' })).toBe(1);
    expect(metrics.turns.value({ provider: 'openai', model: 'openai/gpt-4o', platform: 'discord', status: 'error' })).toBe(0);
    expect(metrics.errors.value({ provider: 'openai', model: 'openai/gpt-4o', platform: 'discord' })).toBe(1);
    // a title generation is a provider call, not a turn
    metrics.observeUsage([usageEvent({ ...base, purpose: 'title', provider: 'ollama', model: 'ollama/llama3.2' })]);
    expect(metrics.turns.value({ provider: 'ollama', model: 'ollama/llama3.2', platform: 'discord', status: 'ok' })).toBe(0);
    expect(metrics.providerCalls.value({ provider: 'ollama', model: 'ollama/llama3.2', platform: 'discord', purpose: 'title', status: 'ok' })).toBe(1);
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
