import type { Counter, Histogram, Registry } from 'prom-client';
import type { NewUsageEventRow } from './usage/table.js';
import type { PlatformStatusBoard } from './platforms.js';

/**
 * Counters and histograms for /metrics, fed from the usage ledger (one batch of rows per turn or
 * utility call), plus prom-client's process metrics (heap, event-loop lag, GC, open fds, …).
 * Values live in memory and start at zero with the process, as Prometheus counters do.
 * prom-client loads on the first use (a turn's usage, /metrics, or `load()` after "ready"), not
 * on the way to "ready".
 *
 * Series names, labels, types and help texts are what dashboards query: change none of them.
 */

/** Seconds: a local model's first token can take a while, a hosted one's whole answer a minute. */
export const LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
export const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

const CALL = ['model', 'platform', 'provider'] as const;

type PromClient = typeof import('prom-client');

/** prom-client's Registry.PROMETHEUS_CONTENT_TYPE, known before prom-client is loaded */
const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

let promClient: Promise<PromClient> | undefined;
let processRegistry: Registry | undefined;

/**
 * prom-client's process and Node.js collectors describe the process, not one runtime, and
 * prom-client gives no handle to stop the event-loop monitor and GC observer they start. So they
 * are made once per process and shared by every Metrics: a test process that starts fifty runtimes
 * still runs one of each. Neither is ref'd, so neither holds the process open at shutdown.
 */
function processMetrics({ Registry, collectDefaultMetrics }: PromClient): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class Metrics {
  private series: Promise<Series> | undefined;
  private loaded: Series | undefined;
  /** batches observed while prom-client loads */
  private waiting: Array<readonly NewUsageEventRow[]> = [];

  constructor(private readonly platforms?: PlatformStatusBoard) {}

  /** Loads prom-client and makes the series, once; the process collectors start then. */
  async load(): Promise<void> {
    await this.made();
  }

  private made(): Promise<Series> {
    this.series ??= (promClient ??= import('prom-client')).then((prom) => {
      const series = new Series(prom, this.platforms);
      for (const rows of this.waiting) series.observeUsage(rows);
      this.waiting = [];
      this.loaded = series;
      return series;
    });
    return this.series;
  }

  /** One batch from the ledger: every provider call of one turn (or one title/summary call). */
  observeUsage(rows: readonly NewUsageEventRow[]): void {
    if (this.loaded) return this.loaded.observeUsage(rows);
    this.waiting.push(rows);
    void this.load();
  }

  /** The Content-Type of `render()`: Prometheus text, version 0.0.4. */
  get contentType(): string {
    return PROMETHEUS_CONTENT_TYPE;
  }

  /** The whole exposition, ending with a newline. */
  async render(): Promise<string> {
    return (await this.made()).render();
  }
}

class Series {
  /** this instance's series (its own registry, never prom-client's global one) and the process's */
  private readonly registry: Registry;
  readonly turns: Counter<'model' | 'platform' | 'provider' | 'status'>;
  readonly providerCalls: Counter<'model' | 'platform' | 'provider' | 'purpose' | 'status'>;
  readonly tokens: Counter<'direction' | 'model' | 'platform' | 'provider' | 'purpose'>;
  readonly errors: Counter<(typeof CALL)[number]>;
  readonly cost: Counter<(typeof CALL)[number]>;
  readonly latency: Histogram<(typeof CALL)[number]>;
  readonly timeToFirstToken: Histogram<(typeof CALL)[number]>;

  constructor(prom: PromClient, platforms?: PlatformStatusBoard) {
    const { Counter, Gauge, Histogram, Registry } = prom;
    const own = new Registry();
    const registers = [own];
    this.turns = new Counter({ name: 'threadloom_turns_total', help: 'Chat turns answered (or failed), by the provider and model that answered last.', labelNames: [...CALL, 'status'], registers });
    this.providerCalls = new Counter({ name: 'threadloom_provider_calls_total', help: 'Calls to model providers, by purpose and outcome.', labelNames: [...CALL, 'purpose', 'status'], registers });
    this.tokens = new Counter({ name: 'threadloom_tokens_total', help: 'Tokens sent to (in) and received from (out) model providers, by purpose (chat, title, summary).', labelNames: ['direction', ...CALL, 'purpose'], registers });
    this.errors = new Counter({ name: 'threadloom_errors_total', help: 'Provider calls that failed.', labelNames: CALL, registers });
    this.cost = new Counter({ name: 'threadloom_cost_usd_total', help: 'Cost of provider calls in US dollars, at the prices known when they were made.', labelNames: CALL, registers });
    this.latency = new Histogram({ name: 'threadloom_turn_latency_seconds', help: 'Time from request to the last token of a chat answer.', labelNames: CALL, buckets: LATENCY_BUCKETS, registers });
    this.timeToFirstToken = new Histogram({ name: 'threadloom_time_to_first_token_seconds', help: 'Time from request to the first token of a chat answer.', labelNames: CALL, buckets: TTFT_BUCKETS, registers });
    if (platforms) {
      new Gauge({
        name: 'threadloom_platform_connected',
        help: 'Whether a chat platform is connected (1) or not (0).',
        labelNames: ['platform'],
        registers,
        collect() {
          for (const status of platforms.list()) this.set({ platform: status.platform }, status.state === 'connected' ? 1 : 0);
        },
      });
    }
    // throws if a name were in both: ours all start with threadloom_, prom-client's with process_ or nodejs_
    this.registry = Registry.merge([own, processMetrics(prom)]);
  }

  observeUsage(rows: readonly NewUsageEventRow[]): void {
    for (const row of rows) {
      // keys in sorted order, so the exposition lists labels as it always has
      const call = { model: row.model, platform: row.platform ?? 'none', provider: row.provider };
      add(this.providerCalls, { ...call, purpose: row.purpose, status: row.status });
      add(this.tokens, { direction: 'in', ...call, purpose: row.purpose }, row.tokens_in ?? 0);
      add(this.tokens, { direction: 'out', ...call, purpose: row.purpose }, row.tokens_out ?? 0);
      add(this.cost, call, row.cost_usd ?? 0);
      if (row.status === 'error') add(this.errors, call);
      if (row.purpose !== 'chat' || row.status === 'error') continue;
      if (row.latency_ms != null) observe(this.latency, call, row.latency_ms / 1000);
      if (row.ttft_ms != null) observe(this.timeToFirstToken, call, row.ttft_ms / 1000);
    }
    // the calls of a turn are its tries in order; the last one is how the turn ended
    const lastChat = rows.filter((r) => r.purpose === 'chat').at(-1);
    if (lastChat) add(this.turns, { model: lastChat.model, platform: lastChat.platform ?? 'none', provider: lastChat.provider, status: lastChat.status });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

// A bad number from a provider (negative, NaN) is dropped, as before, instead of throwing out of
// the ledger's observer and losing the rest of the batch.
function add<T extends string>(counter: Counter<T>, labels: Record<T, string>, by = 1): void {
  if (by >= 0 && Number.isFinite(by)) counter.inc(labels, by);
}

function observe<T extends string>(histogram: Histogram<T>, labels: Record<T, string>, seconds: number): void {
  if (seconds >= 0 && Number.isFinite(seconds)) histogram.observe(labels, seconds);
}
