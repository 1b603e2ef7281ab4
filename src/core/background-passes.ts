import type { Logger } from './log.js';

export interface BackgroundPassesOptions {
  /** names the work in the log: `search`, `knowledge` */
  name: string;
  /** how long to rest after a pass that found nothing to do */
  intervalMs: number;
  log: Logger;
  /** one pass over the queue; resolves to how much it did (0: rest before the next) */
  pass(signal: AbortSignal): Promise<number>;
  /** once per start, before the first pass */
  beforeFirst?(): void | Promise<void>;
}

/**
 * Work that drains a queue in the background: passes one after another while they find work,
 * a rest of `intervalMs` when one finds none (cut short by `nudge`), a failed pass logged and
 * tried again later. The search and knowledge indexers both run on it.
 */
export class BackgroundPasses {
  private running: Promise<void> | null = null;
  private controller = new AbortController();
  private wake: (() => void) | null = null;

  constructor(private readonly options: BackgroundPassesOptions) {}

  get started(): boolean {
    return this.running !== null;
  }

  start(): void {
    if (this.running) return;
    this.controller = new AbortController();
    this.running = this.loop();
  }

  /** Ends the rest and the pass under way; resolves once it has stopped. */
  async stop(): Promise<void> {
    this.controller.abort();
    this.wake?.();
    await this.running;
    this.running = null;
  }

  /** New work is queued: look now rather than at the end of the rest. */
  nudge(): void {
    this.wake?.();
  }

  private async loop(): Promise<void> {
    const signal = this.controller.signal;
    const { name, intervalMs, log } = this.options;
    try {
      await this.options.beforeFirst?.();
    } catch (err) {
      log.error(`${name}: preparing to index failed: ${(err as Error).message}`);
    }
    while (!signal.aborted) {
      let done = 0;
      try {
        done = await this.options.pass(signal);
      } catch (err) {
        log.error(`${name}: indexing pass failed: ${(err as Error).message}`);
      }
      if (done === 0 && !signal.aborted) await this.rest(intervalMs, signal);
    }
  }

  private rest(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      if (signal.aborted) done();
    });
  }
}
