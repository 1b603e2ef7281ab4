import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnThreadloom, type ThreadloomProcess } from './process.js';

export interface InstanceOptions {
  /** the one PostgreSQL every instance shares */
  databaseUrl: string;
  leaseMs: number;
  /** the fake OpenAI answering as the default model */
  providerUrl: string;
  /** the platforms' and anything else's settings, on top of the shared ones */
  env: Record<string, string>;
  /** where the instance's data dir is removed and its process killed at the test's end */
  cleanup: Array<() => Promise<void> | void>;
}

/**
 * One Threadloom instance as a real process (`src/main.ts`) on a shared PostgreSQL, with its own
 * data dir, the admin on a free port, JSON logs and the fake OpenAI as its default model: what the
 * failover tests start two or three of, then kill.
 */
export function startInstance(name: string, options: InstanceOptions): ThreadloomProcess {
  const dataDir = mkdtempSync(path.join(tmpdir(), `threadloom-instance-${name}-`));
  const p = spawnThreadloom('src/main.ts', [], {
    THREADLOOM_DATA_DIR: dataDir,
    THREADLOOM_DATABASE_URL: options.databaseUrl,
    THREADLOOM_LEASE_MS: String(options.leaseMs),
    THREADLOOM_ADMIN_PORT: '0',
    THREADLOOM_LOG_FORMAT: 'json',
    THREADLOOM_DEFAULT_MODEL: 'openai/gpt-4o-mini',
    OPENAI_API_KEY: 'sk-test-not-real',
    OPENAI_BASE_URL: options.providerUrl,
    ...options.env,
  });
  options.cleanup.push(() => {
    p.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  return p;
}
