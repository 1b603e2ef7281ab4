import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/core/config.js';
import type { Logger } from '../../src/core/log.js';
import { DEFAULT_PRICES } from '../../src/core/providers/pricing.js';
import { startRuntime, type Runtime } from '../../src/core/runtime.js';
import { startFakeAnthropic, startFakeOllama, startFakeOpenAI, type FakeProviderServer } from '../fakes/providers.js';
import type { FakeServerOptions } from '../fakes/providers/types.js';
import type { KnowledgeService } from '../../src/core/knowledge/service.js';
import { TEST_POSTGRES_URL, asTestDatabase, freshPostgresDatabase, type TestDatabase } from './postgres.js';

/** the PostgreSQL database of each data dir, so a runtime restarted on the same dir finds its data */
const postgresOfDir = new Map<string, { url: string; drop(): Promise<void> }>();

export interface TestRuntime extends Omit<Runtime, 'database' | 'knowledge'> {
  database: TestDatabase;
  knowledge: KnowledgeService;
  openai: FakeProviderServer;
  anthropic: FakeProviderServer;
  ollama: FakeProviderServer;
  logs: Array<{ level: string; message: string; fields?: Record<string, unknown> }>;
  dir: string;
  shutdown(): Promise<void>;
}

/**
 * The whole engine over a real migrated SQLite file, talking through the real SDKs to fake
 * OpenAI, Anthropic and Ollama servers. The default model is openai/gpt-4o-mini.
 */
export async function startTestRuntime(
  options: {
    config?: (c: Config) => Config;
    now?: () => Date;
    /** options for the fake servers (e.g. an embedder); also the data directory to reuse */
    fakes?: { openai?: FakeServerOptions; ollama?: FakeServerOptions };
    dir?: string;
    /** scripts the fakes before anything starts (a background indexer may call them at once) */
    prepare?: (fakes: { openai: FakeProviderServer; anthropic: FakeProviderServer; ollama: FakeProviderServer }) => void;
  } = {},
): Promise<TestRuntime> {
  const [openai, anthropic, ollama] = await Promise.all([startFakeOpenAI(options.fakes?.openai), startFakeAnthropic(), startFakeOllama(options.fakes?.ollama)]);
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'threadloom-engine-'));
  let server = postgresOfDir.get(dir);
  if (TEST_POSTGRES_URL && !server) {
    server = await freshPostgresDatabase(TEST_POSTGRES_URL);
    postgresOfDir.set(dir, server);
  }
  let config = loadConfig({
    THREADLOOM_DATA_DIR: dir,
    THREADLOOM_DEFAULT_MODEL: 'openai/gpt-4o-mini',
    OPENAI_API_KEY: 'sk-test-not-real',
    OPENAI_BASE_URL: openai.url,
    ANTHROPIC_API_KEY: 'ak-test-not-real',
    ANTHROPIC_BASE_URL: anthropic.url,
    OLLAMA_HOST: ollama.url,
    ...(server ? { THREADLOOM_DATABASE_URL: server.url } : {}),
  });
  // the fake OpenAI and Anthropic servers listen on 127.0.0.1, which makes them local and free;
  // they stand in for the hosted APIs, so they are priced by name as the providers list them
  const hostedPrices = Object.fromEntries(Object.entries(DEFAULT_PRICES).filter(([id]) => !id.startsWith('ollama/')));
  config = { ...config, prices: { ...hostedPrices, ...config.prices }, routing: { ...config.routing, retryBaseDelayMs: 5, firstTokenTimeoutMs: 3_000, totalTimeoutMs: 10_000 } };
  if (options.config) config = options.config(config);
  const logs: TestRuntime['logs'] = [];
  const log: Logger = {
    info: (message, fields) => logs.push({ level: 'info', message, fields }),
    warn: (message, fields) => logs.push({ level: 'warn', message, fields }),
    error: (message, fields) => logs.push({ level: 'error', message, fields }),
  };
  options.prepare?.({ openai, anthropic, ollama });
  const runtime = await startRuntime(config, { log, now: options.now });
  return {
    ...runtime,
    database: asTestDatabase(runtime.database),
    // the admin reads this object as its Runtime, so no getter that throws: on PostgreSQL there is
    // no knowledge service yet, and a test that uses it fails there (a SQLite-only test)
    knowledge: runtime.knowledge as KnowledgeService,
    openai,
    anthropic,
    ollama,
    logs,
    dir,
    shutdown: async () => {
      await runtime.close();
      await Promise.all([openai.close(), anthropic.close(), ollama.close()]);
      if (!options.dir) {
        rmSync(dir, { recursive: true, force: true });
        await server?.drop();
        postgresOfDir.delete(dir);
      }
    },
  };
}

/** What a chat adapter is given in a test world: the engine's face, the config and the captured log. */
export function adapterContext(rt: Runtime): { engine: Runtime['engine']; config: Config; log: Logger } {
  return { engine: rt.engine, config: rt.deps.config, log: rt.deps.log };
}
