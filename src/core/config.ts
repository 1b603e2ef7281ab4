import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import JSON5 from 'json5';
import YAML from 'yaml';
import { z } from 'zod';
import { DEFAULT_BACKUP_SCHEDULE, isValidSchedule } from './backups/schedule.js';
import { ThreadloomError } from './errors.js';
import { modelIdSchema, slugSchema } from './experiences/schema.js';
import { builtinToolsSchema } from './tools/builtin/config.js';
import { checkMcpConfig, mcpConfigSchema, mcpSecrets } from './tools/mcp/config.js';
import { formatIssues } from './validation.js';

/**
 * One schema for the config file and the environment. The file is optional; every setting that
 * matters has an env variable, and env wins. Secrets come from env, or from the file by naming
 * the env variable that holds them (`apiKeyEnv`), never from the database.
 */

/** A provider's name, the `provider` in `provider/model`: the same rule for config and admin connections. */
export const PROVIDER_NAME = /^[a-z0-9][a-z0-9_-]*$/;
export const PROVIDER_NAME_RULE = 'provider names are lowercase';

const providerLimits = {
  maxConcurrent: z.number().int().positive().default(4),
  requestsPerMinute: z.number().int().positive().nullable().default(null),
};

const openaiProvider = z.strictObject({
  kind: z.literal('openai'),
  baseURL: z.url().optional(),
  apiKey: z.string().min(1).optional(),
  apiKeyEnv: z.string().min(1).optional(),
  ...providerLimits,
});
const anthropicProvider = z.strictObject({
  kind: z.literal('anthropic'),
  baseURL: z.url().optional(),
  apiKey: z.string().min(1).optional(),
  apiKeyEnv: z.string().min(1).optional(),
  ...providerLimits,
});
const ollamaProvider = z.strictObject({
  kind: z.literal('ollama'),
  host: z.url().default('http://127.0.0.1:11434'),
  keepAlive: z.union([z.string(), z.number()]).optional(),
  ...providerLimits,
});
const providerSchema = z.discriminatedUnion('kind', [openaiProvider, anthropicProvider, ollamaProvider]);
export type ProviderConfig = z.output<typeof providerSchema>;

const priceSchema = z.strictObject({
  /** USD per million input tokens */
  input: z.number().min(0),
  /** USD per million output tokens */
  output: z.number().min(0),
});

/** A budget in tokens (in + out) and/or US dollars; either may be left out. */
const budgetAmount = z.strictObject({
  tokens: z.number().int().positive().optional(),
  usd: z.number().positive().optional(),
});
/** Per UTC day and per UTC month. */
const budgetLimitsShape = { daily: budgetAmount.optional(), monthly: budgetAmount.optional() };
const budgetLimits = z.strictObject(budgetLimitsShape);
export type BudgetLimits = z.output<typeof budgetLimits>;

const budgetsSchema = z
  .strictObject({
    /** everyone together */
    global: budgetLimits.optional(),
    /** by platform name: discord, slack, matrix, console */
    platforms: z.record(z.string().min(1), budgetLimits).default({}),
    /** by Experience slug; `cheaperModel` answers instead of refusing once a budget is `cheaperAt` spent */
    experiences: z
      .record(
        slugSchema,
        z.strictObject({
          ...budgetLimitsShape,
          cheaperModel: modelIdSchema.optional(),
          cheaperAt: z.number().gt(0).max(1).default(0.8),
        }),
      )
      .default({}),
    /** by identity `platform:userId`, e.g. `discord:81234` or `matrix:@ada:example.org` */
    users: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*:\S+$/, 'an identity such as discord:81234'), budgetLimits).default({}),
    /** each member of a role (users.role; `user` is everyone without a role) gets this much */
    roles: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'a role name such as user'), budgetLimits).default({}),
    /** the share of a budget at which the user is warned, once per budget and period */
    warnAt: z.number().gt(0).lt(1).default(0.8),
    /** local models (Ollama, LAN servers) cost nothing: money budgets neither count nor refuse them */
    exemptLocalFromMoney: z.boolean().default(true),
  })
  .prefault({});
export type BudgetsConfig = z.output<typeof budgetsSchema>;

export const configSchema = z.strictObject({
  dataDir: z.string().min(1).default('./data'),
  database: z
    .strictObject({
      /** `postgres://user:password@host:port/db`: PostgreSQL instead of the SQLite file in dataDir; null: SQLite */
      url: z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'a PostgreSQL URL, e.g. postgres://threadloom:secret@127.0.0.1:5432/threadloom')
        .nullable()
        .default(null),
      /**
       * Several instances on one PostgreSQL: how long the Discord gateway and the Matrix client stay
       * with an instance that stopped renewing before another takes them over
       */
      leaseMs: z.number().int().min(1_000).max(300_000).default(15_000),
    })
    .prefault({}),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** unset: readable lines on a terminal, JSON lines otherwise (containers, journald) */
  logFormat: z.enum(['json', 'pretty']).optional(),
  /** on SIGTERM/SIGINT, answers being written get this long to finish; the rest are cut and marked */
  shutdownGraceMs: z.number().int().min(0).max(120_000).default(10_000),
  defaultModel: modelIdSchema.default('ollama/llama3.2'),
  /** tried in order when the chosen model fails before its first token; fallbacks saved on the admin's Models page win */
  fallbackModels: z.array(modelIdSchema).max(10, 'at most 10 fallbacks').default([]),
  /** cheap model for conversation titles and summaries; null = the turn's own model */
  utilityModel: modelIdSchema.nullable().default(null),
  providers: z.record(z.string().regex(PROVIDER_NAME, PROVIDER_NAME_RULE), providerSchema).default({}),
  prices: z.record(modelIdSchema, priceSchema).default({}),
  routing: z
    .strictObject({
      firstTokenTimeoutMs: z.number().int().positive().default(60_000),
      totalTimeoutMs: z.number().int().positive().default(600_000),
      retries: z.number().int().min(0).max(10).default(2),
      retryBaseDelayMs: z.number().int().min(0).default(500),
    })
    .prefault({}),
  limits: z
    .strictObject({
      userTurnsPerMinute: z.number().int().positive().default(12),
    })
    .prefault({}),
  context: z
    .strictObject({
      /** used when a provider cannot tell a model's context length */
      defaultContextLength: z.number().int().min(512).default(8192),
      reservedAnswerTokens: z.number().int().min(64).default(1024),
    })
    .prefault({}),
  admin: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8787),
      password: z.string().min(8).optional(),
      /**
       * Behind a reverse proxy: trust its X-Forwarded-For / X-Forwarded-Proto. `true` trusts any
       * hop (only when nothing but the proxy can reach the port), a number trusts that many hops,
       * a string lists the proxy addresses or CIDRs ("127.0.0.1,10.0.0.0/8"). Off by default:
       * without a proxy anyone could forge their address past the login lockout.
       */
      trustProxy: z.union([z.boolean(), z.number().int().min(1), z.string().min(1)]).default(false),
    })
    .prefault({}),
  backups: z
    .strictObject({
      /** cron expression, server local time */
      schedule: z.string().refine(isValidSchedule, `not a cron expression; e.g. "${DEFAULT_BACKUP_SCHEDULE}" is daily at 03:00`).default(DEFAULT_BACKUP_SCHEDULE),
      keepDaily: z.number().int().min(1).default(7),
      keepWeekly: z.number().int().min(0).default(4),
      enabled: z.boolean().default(true),
      /** on PostgreSQL: the pg_dump to run (a path or a command on PATH); unset: `pg_dump` on PATH */
      pgDump: z.string().min(1).optional(),
    })
    .prefault({}),
  /** spending limits per day and month: global, per platform, Experience, user and role */
  budgets: budgetsSchema,
  search: z
    .strictObject({
      /** `provider/model` that embeds messages for semantic search; null: keyword search only */
      embeddingModel: modelIdSchema.nullable().default(null),
      /** messages per embedding request */
      batchSize: z.number().int().min(1).max(512).default(32),
      /** embedding requests in flight at once */
      concurrency: z.number().int().min(1).max(16).default(2),
      /** how often the indexer looks for new messages */
      intervalMs: z.number().int().min(50).default(2_000),
    })
    .prefault({}),
  /** settings of the built-in tools (fetch_url's allowed LAN hosts, limits) */
  tools: builtinToolsSchema,
  /** MCP servers whose tools Experiences may offer: `mcp.servers.<name>` = a command or a URL */
  mcp: mcpConfigSchema,
  /** user ids (platform:id) allowed to run admin commands such as `bind` */
  admins: z.array(z.string()).default([]),
  discord: z
    .strictObject({
      token: z.string().min(1).optional(),
      /** REST base, e.g. a proxy; the gateway URL comes from GET /gateway/bot on it */
      apiBaseURL: z.url().optional(),
      /** register slash commands to these guilds (instant) instead of globally (up to an hour) */
      commandGuilds: z.array(z.string()).default([]),
      /** answer a mention in any channel, not only channels bound to an Experience */
      answerEverywhere: z.boolean().default(true),
      allowDMs: z.boolean().default(true),
      /** empty = everyone; otherwise only these guild/channel/role/user ids */
      allow: z
        .strictObject({
          guilds: z.array(z.string()).default([]),
          channels: z.array(z.string()).default([]),
          roles: z.array(z.string()).default([]),
          users: z.array(z.string()).default([]),
        })
        .prefault({}),
      adminUsers: z.array(z.string()).default([]),
      adminRoles: z.array(z.string()).default([]),
      /** between edits of a streaming message: Discord allows 5 edits per 5 s per channel, and the final edit comes on top */
      editIntervalMs: z.number().int().min(1000).default(1250),
      /** after a restart, answer messages left in the bot's conversations up to this old */
      catchUpMinutes: z.number().int().min(0).max(1440).default(10),
      /**
       * gateway shards (Discord asks for more than one from 2,500 guilds): a number, or 'auto' for
       * what GET /gateway/bot recommends. On PostgreSQL each shard is held by one instance.
       */
      shards: z.union([z.number().int('a whole number').min(1, 'at least 1').max(4096), z.literal('auto')]).default(1),
    })
    .prefault({}),
  slack: z
    .strictObject({
      botToken: z.string().min(1).optional(),
      /** set: Socket Mode; unset: HTTP mode with the signing secret */
      appToken: z.string().min(1).optional(),
      signingSecret: z.string().min(1).optional(),
      /** Web API base, e.g. a proxy */
      apiURL: z.url().optional(),
      /** HTTP mode: where Bolt's receiver listens for Slack's requests */
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(3000),
      command: z.string().regex(/^\/[a-z0-9_-]+$/, 'a slash command such as /tl').default('/tl'),
      answerEverywhere: z.boolean().default(true),
      allowDMs: z.boolean().default(true),
      allow: z.strictObject({ channels: z.array(z.string()).default([]), users: z.array(z.string()).default([]) }).prefault({}),
      adminUsers: z.array(z.string()).default([]),
      /** between updates of a streaming message: Slack allows about one chat.update per second */
      editIntervalMs: z.number().int().min(1000).default(1100),
    })
    .prefault({}),
  matrix: z
    .strictObject({
      homeserverURL: z.url().optional(),
      accessToken: z.string().min(1).optional(),
      /** the device the access token belongs to; asked from the homeserver when unset */
      deviceId: z.string().min(1).optional(),
      userId: z.string().min(1).optional(),
      password: z.string().min(1).optional(),
      /** encrypts the crypto store and session file at rest; generated into the data dir when unset */
      storeKey: z.string().min(16, 'at least 16 characters').optional(),
      /** text commands: `!tl model gpt-4o` */
      commandPrefix: z.string().min(1).default('!tl'),
      answerEverywhere: z.boolean().default(true),
      allowDMs: z.boolean().default(true),
      /** invites and messages: empty = everyone; otherwise these user ids, servers or room ids */
      allow: z
        .strictObject({
          users: z.array(z.string()).default([]),
          servers: z.array(z.string()).default([]),
          rooms: z.array(z.string()).default([]),
        })
        .prefault({}),
      adminUsers: z.array(z.string()).default([]),
      /** between edits of a streaming answer; each edit is an event, and homeservers rate-limit them */
      editIntervalMs: z.number().int().min(1000).default(1000),
      /** after a restart, answer messages sent while the bot was down up to this old */
      catchUpMinutes: z.number().int().min(0).max(1440).default(10),
    })
    .prefault({}),
});

export type Config = z.output<typeof configSchema>;

type Env = Record<string, string | undefined>;

/** env variable → config path; env wins over the file. */
const ENV_PATHS: ReadonlyArray<[string, string[], 'string' | 'number' | 'trust']> = [
  ['THREADLOOM_DATA_DIR', ['dataDir'], 'string'],
  ['THREADLOOM_DATABASE_URL', ['database', 'url'], 'string'],
  ['THREADLOOM_LEASE_MS', ['database', 'leaseMs'], 'number'],
  ['THREADLOOM_SHUTDOWN_GRACE_MS', ['shutdownGraceMs'], 'number'],
  ['THREADLOOM_LOG_LEVEL', ['logLevel'], 'string'],
  ['THREADLOOM_LOG_FORMAT', ['logFormat'], 'string'],
  ['THREADLOOM_DEFAULT_MODEL', ['defaultModel'], 'string'],
  ['THREADLOOM_UTILITY_MODEL', ['utilityModel'], 'string'],
  ['THREADLOOM_EMBEDDING_MODEL', ['search', 'embeddingModel'], 'string'],
  ['THREADLOOM_ADMIN_HOST', ['admin', 'host'], 'string'],
  ['THREADLOOM_ADMIN_PORT', ['admin', 'port'], 'number'],
  ['THREADLOOM_ADMIN_PASSWORD', ['admin', 'password'], 'string'],
  ['THREADLOOM_ADMIN_TRUST_PROXY', ['admin', 'trustProxy'], 'trust'],
  ['THREADLOOM_BACKUP_SCHEDULE', ['backups', 'schedule'], 'string'],
  ['THREADLOOM_PG_DUMP', ['backups', 'pgDump'], 'string'],
  ['DISCORD_TOKEN', ['discord', 'token'], 'string'],
  ['DISCORD_API_BASE_URL', ['discord', 'apiBaseURL'], 'string'],
  ['DISCORD_SHARDS', ['discord', 'shards'], 'number'],
  ['SLACK_BOT_TOKEN', ['slack', 'botToken'], 'string'],
  ['SLACK_APP_TOKEN', ['slack', 'appToken'], 'string'],
  ['SLACK_SIGNING_SECRET', ['slack', 'signingSecret'], 'string'],
  ['SLACK_API_URL', ['slack', 'apiURL'], 'string'],
  ['MATRIX_HOMESERVER_URL', ['matrix', 'homeserverURL'], 'string'],
  ['MATRIX_ACCESS_TOKEN', ['matrix', 'accessToken'], 'string'],
  ['MATRIX_USER_ID', ['matrix', 'userId'], 'string'],
  ['MATRIX_PASSWORD', ['matrix', 'password'], 'string'],
  ['MATRIX_DEVICE_ID', ['matrix', 'deviceId'], 'string'],
  ['MATRIX_STORE_KEY', ['matrix', 'storeKey'], 'string'],
];

/** The built-in providers and the env variables that switch them on. */
const BUILT_IN_PROVIDERS: ReadonlyArray<{ name: string; kind: ProviderConfig['kind']; keyEnv?: string; urlEnv: string }> = [
  { name: 'openai', kind: 'openai', keyEnv: 'OPENAI_API_KEY', urlEnv: 'OPENAI_BASE_URL' },
  { name: 'anthropic', kind: 'anthropic', keyEnv: 'ANTHROPIC_API_KEY', urlEnv: 'ANTHROPIC_BASE_URL' },
  { name: 'ollama', kind: 'ollama', urlEnv: 'OLLAMA_HOST' },
];

/** Where each provider of a loaded config came from, by its `providers` object (see providerOrigin). */
const PROVIDER_ORIGINS = new WeakMap<object, Map<string, string>>();

function recordProviderOrigins(providers: Config['providers'], declaredInFile: ReadonlySet<string>, env: Env): void {
  const origins = new Map<string, string>();
  for (const [name, provider] of Object.entries(providers)) {
    const builtIn = BUILT_IN_PROVIDERS.find((b) => b.name === name && b.kind === provider.kind);
    const vars = builtIn ? [builtIn.keyEnv, builtIn.urlEnv].filter((v): v is string => v !== undefined && Boolean(env[v])) : [];
    if (declaredInFile.has(name)) origins.set(name, `config file: providers.${name}${vars.length ? ` (with ${vars.join(', ')})` : ''}`);
    else if (vars.length) origins.set(name, `environment: ${vars.join(', ')}`);
    else origins.set(name, 'built in: Ollama on this machine (set OLLAMA_HOST to move it)');
  }
  PROVIDER_ORIGINS.set(providers, origins);
}

/**
 * Where a configured provider comes from, for the admin's Connections page:
 * "environment: OPENAI_API_KEY, OPENAI_BASE_URL", "config file: providers.lmstudio", or the
 * built-in Ollama on this machine.
 */
export function providerOrigin(config: Pick<Config, 'providers'>, name: string): string {
  return PROVIDER_ORIGINS.get(config.providers)?.get(name) ?? `config file: providers.${name}`;
}

export function configPath(env: Env): string {
  if (env.THREADLOOM_CONFIG) return env.THREADLOOM_CONFIG;
  for (const candidate of ['threadloom.config.yaml', 'threadloom.config.yml', 'threadloom.config.json5']) {
    if (existsSync(candidate)) return candidate;
  }
  return 'threadloom.config.yaml';
}

function readConfigFile(file: string, explicit: boolean): Record<string, unknown> | null {
  if (!existsSync(file)) {
    if (explicit) throw new ThreadloomError('config', `config file ${file} does not exist (THREADLOOM_CONFIG)`);
    return null;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EISDIR' ? 'is a directory, not a file' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${code ?? String(err)})`;
    throw new ThreadloomError('config', `config file ${path.resolve(file)} ${why}; point THREADLOOM_CONFIG at a .yaml or .json5 file`, { cause: err });
  }
  try {
    const parsed: unknown = /\.json5?$/.test(file) ? JSON5.parse(text) : YAML.parse(text);
    if (parsed == null) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the top level must be a mapping');
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new ThreadloomError('config', `${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function setPath(target: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

/** An env value as its config type; a string for a number that is not one, so the problem names the variable. */
function envValue(value: string, type: 'string' | 'number' | 'trust'): unknown {
  if (type === 'number') return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (type === 'trust') {
    if (/^(true|yes)$/i.test(value)) return true;
    if (/^(false|no|0)$/i.test(value)) return false;
    return /^\d+$/.test(value) ? Number(value) : value;
  }
  return value;
}

/** Lays env over the raw file; returns which config path each variable set, for the messages. */
function applyEnv(raw: Record<string, unknown>, env: Env): Map<string, string> {
  const fromEnv = new Map<string, string>();
  for (const [name, keys, type] of ENV_PATHS) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(raw, keys, envValue(value, type));
    fromEnv.set(keys.join('.'), name === 'THREADLOOM_ADMIN_PASSWORD' ? name : `${name}=${value}`);
  }
  const providers = (raw.providers ??= {}) as Record<string, Record<string, unknown>>;
  for (const builtIn of BUILT_IN_PROVIDERS) {
    const url = env[builtIn.urlEnv];
    const key = builtIn.keyEnv ? env[builtIn.keyEnv] : undefined;
    const declared = providers[builtIn.name];
    // Ollama is always on (it is the default model's provider); the others when their env is set.
    if (!declared && !url && !key && builtIn.kind !== 'ollama') continue;
    const entry = (providers[builtIn.name] ??= { kind: builtIn.kind });
    if (url) entry[builtIn.kind === 'ollama' ? 'host' : 'baseURL'] = url;
    if (key && entry.apiKey === undefined && entry.apiKeyEnv === undefined) entry.apiKey = key;
  }
  return fromEnv;
}

/** "admin.port: Too small…" becomes "admin.port (THREADLOOM_ADMIN_PORT=-5): Too small…" when env set it. */
function nameEnvVariables(problems: string[], fromEnv: Map<string, string>): string[] {
  return problems.map((problem) => {
    const where = problem.slice(0, problem.indexOf(':'));
    const variable = fromEnv.get(where);
    if (!variable) return problem;
    // every env value is a string: "received string" would only confuse
    const rest = problem.slice(where.length).replace('Invalid input: expected number, received string', 'not a number');
    return `${where} (${variable})${rest}`;
  });
}

/** Cross-field checks the schema cannot express; each names the key and the fix. */
function checkConfig(config: Config, env: Env): string[] {
  const problems: string[] = [];
  for (const [name, provider] of Object.entries(config.providers)) {
    if (provider.kind === 'ollama') continue;
    if (provider.apiKeyEnv && !env[provider.apiKeyEnv]) {
      problems.push(`providers.${name}.apiKeyEnv: the variable ${provider.apiKeyEnv} is not set`);
    }
    const hostedDefault = provider.baseURL === undefined;
    if (hostedDefault && !provider.apiKey && !provider.apiKeyEnv) {
      const envName = provider.kind === 'openai' ? 'OPENAI_API_KEY' : 'ANTHROPIC_API_KEY';
      const fix = name === provider.kind ? `set ${envName}` : `set apiKeyEnv to the variable holding the key, or set baseURL for a local server`;
      problems.push(`providers.${name}.apiKey: ${fix}`);
    }
  }
  const models = [config.defaultModel, config.utilityModel].filter((m): m is string => m !== null);
  for (const model of models) {
    const provider = model.slice(0, model.indexOf('/'));
    if (!config.providers[provider]) {
      const key = model === config.defaultModel ? 'defaultModel' : 'utilityModel';
      const builtIn = BUILT_IN_PROVIDERS.find((b) => b.name === provider && b.keyEnv);
      const fix = builtIn
        ? `set ${builtIn.keyEnv} (and ${builtIn.urlEnv} for a compatible server) to use ${provider} models`
        : `add providers.${provider} or pick one of: ${Object.keys(config.providers).join(', ')}`;
      problems.push(`${key}: no provider named "${provider}" is configured; ${fix}`);
    }
  }
  problems.push(...checkMcpConfig(config.mcp.servers, env));
  return problems;
}

/** Reads the file (if any) and env; throws one ThreadloomError listing every problem. */
export function loadConfig(env: Env = process.env): Config {
  const file = configPath(env);
  const fileContent = readConfigFile(file, Boolean(env.THREADLOOM_CONFIG));
  const raw = fileContent ?? {};
  const declaredInFile = new Set(Object.keys(typeof raw.providers === 'object' && raw.providers !== null ? raw.providers : {}));
  const fromEnv = applyEnv(raw, env);
  const parsed = configSchema.safeParse(raw);
  const problems = nameEnvVariables(parsed.success ? checkConfig(parsed.data, env) : formatIssues(parsed.error), fromEnv);
  if (problems.length > 0) {
    const source = fileContent ? `${path.basename(file)} + environment` : 'environment only, no config file';
    throw new ThreadloomError('config', `invalid configuration (${source}):\n  ${problems.join('\n  ')}`);
  }
  recordProviderOrigins(parsed.data!.providers, declaredInFile, env);
  return parsed.data!;
}

/** Every secret the config holds, so the logger can keep them out of every line. */
export function configSecrets(config: Config, env: Env = process.env): string[] {
  const values = [
    ...Object.values(config.providers).map((p) => apiKeyFor(p, env)),
    config.discord.token,
    config.slack.botToken,
    config.slack.appToken,
    config.slack.signingSecret,
    config.matrix.accessToken,
    config.matrix.password,
    config.matrix.storeKey,
    config.admin.password,
    ...databaseSecrets(config.database.url),
    ...mcpSecrets(config.mcp.servers, env),
  ];
  return values.filter((v): v is string => typeof v === 'string' && v.length > 0);
}

/** The URL and its password alone: a driver's error may quote either. */
function databaseSecrets(url: string | null): string[] {
  if (!url) return [];
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password ? [url, password] : [url];
  } catch {
    return [url];
  }
}

export function apiKeyFor(provider: ProviderConfig, env: Env = process.env): string | undefined {
  if (provider.kind === 'ollama') return undefined;
  return provider.apiKey ?? (provider.apiKeyEnv ? env[provider.apiKeyEnv] : undefined);
}
