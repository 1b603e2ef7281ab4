import { sql } from 'kysely';
import { checkPgDump } from './backups/pg-dump.js';
import { configPath, loadConfig, type Config } from './config.js';
import { databaseFile, openDatabaseFor, type OpenedDatabase } from './db/open.js';
import { redactedUrl } from './db/postgres.js';
import { pendingMigrations } from './db/migrate.js';
import { errorMessage } from './errors.js';
import { createProviders } from './providers/registry.js';
import { splitModelId } from './providers/router.js';
import type { Provider } from './providers/types.js';

type Env = Record<string, string | undefined>;

/** SQLite: the file's quick_check and sqlite-vec; PostgreSQL: the server's version and pgvector's, if installed. */
async function databaseHealth(database: OpenedDatabase): Promise<{ ok: boolean; detail: string }> {
  if (database.kind === 'sqlite') {
    const integrity = database.sqlite.pragma('quick_check', { simple: true });
    const vec = database.sqlite.prepare('select vec_version() as v').get() as { v: string };
    return { ok: integrity === 'ok', detail: `${database.file} (${integrity}, WAL, sqlite-vec ${vec.v})` };
  }
  const { rows } = await sql<{ server: string; vector: string | null }>`
    SELECT current_setting('server_version') AS server, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS vector`.execute(database.db);
  const { server, vector } = rows[0]!;
  return { ok: true, detail: `${database.where} (PostgreSQL ${server}, ${vector ? `pgvector ${vector}` : 'no pgvector extension'})` };
}
type Check = { ok: boolean; name: string; detail: string; warnOnly?: boolean };

/** On PostgreSQL, backups are pg_dump's: which one, its version, and whether it can dump this server. */
async function pgDumpCheck(database: OpenedDatabase, config: Config): Promise<Check | null> {
  if (database.kind !== 'postgres') return null;
  const tool = await checkPgDump(database.db, config.backups.pgDump);
  if (!tool.ok) return { ok: false, warnOnly: true, name: 'backups', detail: `${tool.message}; until then backups fail` };
  return { ok: true, name: 'backups', detail: `pg_dump ${tool.version} at ${tool.path} (dumps PostgreSQL ${tool.server})` };
}

const PROVIDER_TIMEOUT_MS = 5_000;

/**
 * Checks what a newcomer gets wrong first, one line each. True when nothing failed
 * (an unreachable provider that is not the default model's is a warning, not a failure).
 */
export async function runDoctor(env: Env, print: (line: string) => void): Promise<boolean> {
  const checks: Check[] = [];
  const report = (check: Check): void => {
    checks.push(check);
    const mark = check.ok ? 'ok  ' : check.warnOnly ? 'warn' : 'FAIL';
    print(`${mark} ${check.name.padEnd(20)} ${check.detail}`);
  };

  let config: Config;
  try {
    config = loadConfig(env);
    report({ ok: true, name: 'config', detail: `${configPath(env)} + environment` });
  } catch (err) {
    report({ ok: false, name: 'config', detail: errorMessage(err).replace(/\n\s*/g, '; ') });
    return false;
  }

  const where = config.database.url ? redactedUrl(config.database.url) : databaseFile(config.dataDir);
  try {
    const database = openDatabaseFor(config);
    try {
      report({ name: 'database', ...(await databaseHealth(database)) });
      const pending = await pendingMigrations(database.db);
      report({
        ok: pending.length === 0,
        warnOnly: true,
        name: 'migrations',
        detail: pending.length ? `${pending.length} pending (${pending.join(', ')}): run \`npm run migrate\` or start Threadloom` : 'up to date',
      });
      const backups = await pgDumpCheck(database, config);
      if (backups) report(backups);
    } finally {
      await database.close();
    }
  } catch (err) {
    report({ ok: false, name: 'database', detail: `${where}: ${errorMessage(err)}` });
  }

  const defaultProvider = splitModelId(config.defaultModel).provider;
  const providers = await createProviders(config, env);
  await Promise.all(
    [...providers.entries()].map(async ([name, provider]) => {
      const critical = name === defaultProvider;
      try {
        const models = await provider.listModels(AbortSignal.timeout(PROVIDER_TIMEOUT_MS));
        const missing = critical && !models.some((m) => `${name}/${m.name}` === config.defaultModel || `${name}/${m.name}` === `${config.defaultModel}:latest`);
        report({
          ok: !missing,
          warnOnly: true,
          name: `provider ${name}`,
          detail: `reachable, ${models.length} models${missing ? `; the default model ${config.defaultModel} is not among them` : ''}`,
        });
      } catch (err) {
        report({ ok: false, warnOnly: !critical, name: `provider ${name}`, detail: `unreachable: ${errorMessage(err)}${critical ? ' (it serves the default model)' : ''}` });
      }
    }),
  );
  report(await embeddingCheck(config, providers));
  if (config.discord.token) report(await discordCheck(config.discord.token, config.discord.apiBaseURL ?? 'https://discord.com/api'));
  return checks.every((c) => c.ok || c.warnOnly);
}

/** The embedding model answers, and with how many dimensions; without one, search is keywords only. */
async function embeddingCheck(config: Config, providers: Map<string, Provider>): Promise<Check> {
  const modelId = config.search.embeddingModel;
  if (!modelId) return { ok: true, name: 'search', detail: 'keywords only: set THREADLOOM_EMBEDDING_MODEL (e.g. ollama/nomic-embed-text) to search by meaning too' };
  const { provider: name, model } = splitModelId(modelId);
  const provider = providers.get(name);
  if (!provider) return { ok: false, warnOnly: true, name: 'search', detail: `${modelId}: no provider named "${name}" is configured` };
  try {
    const { vectors } = await provider.embed(model, ['Threadloom doctor'], AbortSignal.timeout(PROVIDER_TIMEOUT_MS));
    return { ok: true, name: 'search', detail: `${modelId} embeds (${vectors[0]?.length ?? 0} dimensions)` };
  } catch (err) {
    return { ok: false, warnOnly: true, name: 'search', detail: `${modelId} cannot embed: ${errorMessage(err)} (keyword search still works)` };
  }
}

/** The bot token works: Discord says who it belongs to. */
async function discordCheck(token: string, apiBase: string): Promise<Check> {
  try {
    const response = await fetch(`${apiBase.replace(/\/$/, '')}/v10/users/@me`, {
      headers: { Authorization: `Bot ${token}` },
      signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
    });
    if (response.status === 401) return { ok: false, name: 'discord', detail: 'the token was refused: copy the bot token again from the Developer Portal (Bot → Reset Token)' };
    if (!response.ok) return { ok: false, name: 'discord', detail: `Discord answered ${response.status}` };
    const user = (await response.json()) as { username?: string };
    return { ok: true, name: 'discord', detail: `token works, bot user ${user.username ?? '?'}` };
  } catch (err) {
    return { ok: false, name: 'discord', detail: `unreachable: ${errorMessage(err)}` };
  }
}
