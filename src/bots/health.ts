import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { AdapterStatus } from './adapter.js';

/**
 * What every adapter tracks of its own health: whether it is connected and the last thing that
 * went wrong. `guard` runs one event's work: a bad event is logged and dropped, never stopping
 * the adapter.
 */
export class AdapterHealth {
  connected = false;
  private lastError: string | null = null;

  constructor(
    private readonly platform: string,
    private readonly log: Logger,
  ) {}

  guard(what: string, work: () => Promise<void>): Promise<void> {
    return work().catch((err) => this.log.error(`${this.platform} ${what} failed`, { error: errorMessage(err) }));
  }

  /** a connection-level failure: remembered for the status, logged as a warning */
  failed(err: unknown, what = 'error'): void {
    this.lastError = errorMessage(err);
    this.log.warn(`${this.platform} ${what}`, { error: this.lastError });
  }

  /** remembers why without logging (the caller reports it its own way) */
  remember(err: unknown): void {
    this.lastError = errorMessage(err);
  }

  /** connected: `detail` says as what; else the last error */
  status(detail: string, connected = this.connected): AdapterStatus {
    return connected ? { connected: true, detail } : { connected: false, detail: this.lastError ?? 'not connected' };
  }
}
