import type { BackupService } from '../core/backups/service.js';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Metrics } from '../core/metrics.js';
import type { PlatformStatusBoard } from '../core/platforms.js';
import type { Runtime } from '../core/runtime.js';

/**
 * Everything the admin web reads and acts on, built once by whoever starts it (main.ts, a test).
 * Route files receive it in `register<Page>Routes(app, ctx)` and never reach for globals.
 */
export interface AdminContext {
  runtime: Runtime;
  config: Config;
  log: Logger;
  now: () => Date;
  platforms: PlatformStatusBoard;
  metrics: Metrics;
  /** absent in a process that runs no backups (most tests): the Backups page says so */
  backups?: BackupService;
  /**
   * Admin password from the environment (THREADLOOM_ADMIN_PASSWORD) or config; wins over the
   * stored hash. Defaults to `config.admin.password`.
   */
  password?: string;
}

/** The usual context: everything from the runtime. */
export function adminContext(runtime: Runtime, extra: Partial<AdminContext> = {}): AdminContext {
  return {
    runtime,
    config: runtime.deps.config,
    log: runtime.deps.log,
    now: runtime.deps.now,
    platforms: runtime.platforms,
    metrics: runtime.metrics,
    ...extra,
  };
}
