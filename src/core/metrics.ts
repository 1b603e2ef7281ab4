import type { NewUsageEvent } from './db/types.js';
import type { PlatformStatusBoard } from './platforms.js';

/**
 * Process-wide counters and histograms, fed from the usage ledger (one batch of rows per turn or
 * utility call) and rendered in the Prometheus text format (version 0.0.4). Values live in memory
 * and start at zero with the process, as Prometheus counters do.
 */

type Labels = Record<string, string>;

/** Seconds: a local model's first token can take a while, a hosted one's whole answer a minute. */
export const LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
export const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.keys(labels).sort().map((k) => `${k}="${escapeLabelValue(labels[k]!)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

function formatNumber(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  return String(value);
}

function header(name: string, help: string, type: string): string[] {
  return [`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`];
}

export class Counter {
  private readonly series = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels, by = 1): void {
    if (!(by >= 0)) return;
    const key = labelKey(labels);
    const entry = this.series.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.series.set(key, entry);
  }

  value(labels: Labels): number {
    return this.series.get(labelKey(labels))?.value ?? 0;
  }

  render(): string[] {
    const lines = header(this.name, this.help, 'counter');
    for (const { labels, value } of this.series.values()) lines.push(`${this.name}${formatLabels(labels)} ${formatNumber(value)}`);
    return lines;
  }
}

export class Histogram {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}

  observe(labels: Labels, value: number): void {
    if (!Number.isFinite(value) || value < 0) return;
    const key = labelKey(labels);
    const entry = this.series.get(key) ?? { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
    this.buckets.forEach((bound, i) => {
      if (value <= bound) entry.counts[i]! += 1;
    });
    entry.sum += value;
    entry.count += 1;
    this.series.set(key, entry);
  }

  count(labels: Labels): number {
    return this.series.get(labelKey(labels))?.count ?? 0;
  }

  render(): string[] {
    const lines = header(this.name, this.help, 'histogram');
    for (const { labels, counts, sum, count } of this.series.values()) {
      this.buckets.forEach((bound, i) => lines.push(`${this.name}_bucket${formatLabels(labels, ['le', formatNumber(bound)])} ${counts[i]}`));
      lines.push(`${this.name}_bucket${formatLabels(labels, ['le', '+Inf'])} ${count}`);
      lines.push(`${this.name}_sum${formatLabels(labels)} ${formatNumber(sum)}`);
      lines.push(`${this.name}_count${formatLabels(labels)} ${count}`);
    }
    return lines;
  }
}

export class Metrics {
  readonly turns = new Counter('threadloom_turns_total', 'Chat turns answered (or failed), by the provider and model that answered last.');
  readonly providerCalls = new Counter('threadloom_provider_calls_total', 'Calls to model providers, by purpose and outcome.');
  readonly tokens = new Counter('threadloom_tokens_total', 'Tokens sent to (in) and received from (out) model providers, by purpose (chat, title, summary).');
  readonly errors = new Counter('threadloom_errors_total', 'Provider calls that failed.');
  readonly cost = new Counter('threadloom_cost_usd_total', 'Cost of provider calls in US dollars, at the prices known when they were made.');
  readonly latency = new Histogram('threadloom_turn_latency_seconds', 'Time from request to the last token of a chat answer.', LATENCY_BUCKETS);
  readonly timeToFirstToken = new Histogram('threadloom_time_to_first_token_seconds', 'Time from request to the first token of a chat answer.', TTFT_BUCKETS);

  constructor(private readonly platforms?: PlatformStatusBoard) {}

  /** One batch from the ledger: every provider call of one turn (or one title/summary call). */
  observeUsage(rows: readonly NewUsageEvent[]): void {
    for (const row of rows) {
      const base = { provider: row.provider, model: row.model, platform: row.platform ?? 'none' };
      this.providerCalls.inc({ ...base, purpose: row.purpose, status: row.status });
      this.tokens.inc({ ...base, purpose: row.purpose, direction: 'in' }, row.tokens_in ?? 0);
      this.tokens.inc({ ...base, purpose: row.purpose, direction: 'out' }, row.tokens_out ?? 0);
      this.cost.inc(base, row.cost_usd ?? 0);
      if (row.status === 'error') this.errors.inc(base);
      if (row.purpose !== 'chat' || row.status === 'error') continue;
      if (row.latency_ms != null) this.latency.observe(base, row.latency_ms / 1000);
      if (row.ttft_ms != null) this.timeToFirstToken.observe(base, row.ttft_ms / 1000);
    }
    // the calls of a turn are its tries in order; the last one is how the turn ended
    const lastChat = rows.filter((r) => r.purpose === 'chat').at(-1);
    if (lastChat) this.turns.inc({ provider: lastChat.provider, model: lastChat.model, platform: lastChat.platform ?? 'none', status: lastChat.status });
  }

  /** The whole exposition, ending with a newline. */
  render(): string {
    const lines = [this.turns, this.providerCalls, this.tokens, this.errors, this.cost, this.latency, this.timeToFirstToken].flatMap((m) => m.render());
    if (this.platforms) {
      lines.push(...header('threadloom_platform_connected', 'Whether a chat platform is connected (1) or not (0).', 'gauge'));
      for (const status of this.platforms.list()) lines.push(`threadloom_platform_connected${formatLabels({ platform: status.platform })} ${status.state === 'connected' ? 1 : 0}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
