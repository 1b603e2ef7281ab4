import { BudgetService } from './budgets/service.js';
import type { Config } from './config.js';
import { ConnectionService } from './connections/service.js';
import { SharedChanges } from './instances/changes.js';
import { instanceName } from './instances/identity.js';
import { instanceLease, recoverInterruptedAnswers } from './instances/interrupted.js';
import { keepLease, type KeptLease } from './instances/keeper.js';
import { Leases } from './instances/leases.js';
import { DatabasePlatformState, platformLease, type PlatformStateStore } from './instances/platform-state.js';
import { ConversationService } from './conversations/service.js';
import { databaseFileProblem } from './db/problems.js';
import { databaseFile, openConfiguredDatabase, type Db, type OpenedDatabase } from './db/open.js';
import { migrateToLatest } from './db/migrate.js';
import { Metrics } from './metrics.js';
import { ReadinessBoard } from './providers/readiness.js';
import { applyAccess, loadAccess, PlatformStatusBoard } from './platforms.js';
import { observeUsage } from './usage/ledger.js';
import { Engine } from './engine.js';
import { ExperienceService } from './experiences/service.js';
import { consoleLogger, type Logger } from './log.js';
import { errorMessage } from './errors.js';
import { ModelCatalog } from './providers/catalog.js';
import { PriceTable } from './providers/pricing.js';
import { createProviders, localProviderNames, providerLimits } from './providers/registry.js';
import { ProviderRouter } from './providers/router.js';
import type { Provider } from './providers/types.js';
import { loadSecretBox, type SecretBox } from './secrets.js';
import { createSearch } from './search/create.js';
import { createKnowledge } from './knowledge/create.js';
import type { KnowledgeService } from './knowledge/service.js';
import type { PlatformDirectory } from './search/directory.js';
import type { EngineDeps } from './turns/deps.js';
import { writeAudit } from './audit.js';
import { ApprovalDesk } from './tools/approvals.js';
import { ToolRegistry } from './tools/registry.js';
import { createBuiltinTools, scopeForCaller } from './tools/builtin/index.js';
import { McpServers } from './tools/mcp/source.js';
import { McpServerStore } from './tools/mcp/store.js';
import { BUILTIN_SOURCE } from './tools/types.js';

export interface Runtime {
  engine: Engine;
  deps: EngineDeps;
  database: OpenedDatabase;
  /** what each chat adapter reports about its connection */
  platforms: PlatformStatusBoard;
  /** counters and histograms for /metrics, fed by the usage ledger */
  metrics: Metrics;
  /** spending limits: the turn checks them; the admin Usage page reads `budgetOverview` */
  budgets: BudgetService;
  /** whether a model can answer: the dashboard's banner until one does */
  readiness: ReadinessBoard;
  /** provider connections made in the admin, live in the router */
  connections: ConnectionService;
  /** admin changes other instances sharing the database made (PostgreSQL) */
  changes: SharedChanges;
  /** this process's name among instances (host:pid:random): the holder of its leases */
  instance: string;
  /**
   * On PostgreSQL: what a platform held by one instance at a time keeps in the database for its
   * next holder (Matrix's session and crypto store), fenced by the platform's lease. Undefined on
   * SQLite, where one instance keeps it in its data dir.
   */
  sharedState: ((platform: string) => PlatformStateStore) | undefined;
  /** the MCP servers whose tools Experiences may offer; the admin adds and tests them at run time */
  mcp: McpServers;
  /** the MCP servers added in the admin, stored (secrets sealed) and put into `mcp` */
  mcpStore: McpServerStore;
  /** each Experience's documents, indexed in the background and retrieved as sources; none on PostgreSQL yet */
  knowledge: KnowledgeService | undefined;
  close(): Promise<void>;
}

/** A chat adapter as the runtime wires it (structural: the core imports nothing from bots/). */
export interface ConnectableAdapter {
  readonly platform: string;
  /** who may read which channel there, when the platform can tell (search uses it) */
  readonly directory?: PlatformDirectory;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts an adapter and registers its optional capabilities with the engine. */
export async function startAdapter(engine: Engine, adapter: ConnectableAdapter): Promise<void> {
  // taking a platform over from a dead instance: what it claimed and never finished, the catch-up answers again
  await engine.releaseOrphanedClaims(adapter.platform);
  await adapter.start();
  if (adapter.directory) engine.registerDirectory(adapter.platform, adapter.directory);
}

/** Withdraws an adapter's capabilities, then stops it. */
export async function stopAdapter(engine: Engine, adapter: ConnectableAdapter): Promise<void> {
  engine.removeDirectory(adapter.platform);
  await adapter.stop();
}

export interface RuntimeOptions {
  log?: Logger;
  /** replaces the providers built from config (tests) */
  providers?: Map<string, Provider>;
  now?: () => Date;
  /** the SQLite file (default: threadloom.db in the data dir); unused when config.database.url is set */
  databaseFile?: string;
  /** where THREADLOOM_SECRET_KEY is read (default process.env) */
  env?: Record<string, string | undefined>;
}

export { recoverInterruptedAnswers } from './instances/interrupted.js';

/**
 * On PostgreSQL: keeps this instance's lease (other instances see it alive) and, every lease
 * period, marks interrupted the answers of instances that stopped renewing theirs.
 */
function startInstanceLease(database: OpenedDatabase, instance: string, leaseMs: number, log: Logger): { lease: KeptLease; stop(): Promise<void> } | null {
  if (database.kind !== 'postgres') return null;
  const lease = keepLease(new Leases(database.db, instance), instanceLease(instance), { ttlMs: leaseMs, onGained() {}, onLost() {}, log: quiet(log) });
  const sweep = setInterval(() => {
    recoverInterruptedAnswers(database.db).then(
      (n) => n && log.warn(`${n} answers were cut off: the instance writing them stopped`),
      (err) => log.warn(`could not look for answers cut off by a stopped instance: ${errorMessage(err)}`),
    );
  }, leaseMs).unref();
  return {
    lease,
    async stop() {
      clearInterval(sweep);
      await lease.stop();
    },
  };
}

/** Warnings and errors only: the instance lease's comings and goings are not news. */
function quiet(log: Logger): Logger {
  return { info() {}, warn: (m, f) => log.warn(m, f), error: (m, f) => log.error(m, f) };
}

/**
 * Opens the database, applies pending migrations, installs the built-in Experiences on first
 * start and wires the engine. Everything the process runs hangs off the returned Runtime.
 */
export async function startRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const log = options.log ?? consoleLogger();
  const database = openConfiguredDatabase({ url: config.database.url, file: options.databaseFile ?? databaseFile(config.dataDir) });
  try {
    const { applied } = await migrateToLatest(database.db);
    if (applied.length) log.info(`applied migrations: ${applied.join(', ')}`);
    // this process among the instances sharing a PostgreSQL database: its lease says it is alive
    const instance = instanceName();
    const alive = startInstanceLease(database, instance, config.database.leaseMs, log);
    if (alive) await alive.lease.settled;
    await recoverInterruptedAnswers(database.db);
    // allowlists, admins and limits saved from the admin web win over the config file
    const access = await loadAccess(database.db);
    if (access) applyAccess(config, access);
    const experiences = new ExperienceService(database.db);
    if ((await experiences.list({ includeArchived: true })).length === 0) {
      const installed = await experiences.installTemplates();
      log.info(`installed ${installed.length} built-in Experiences`);
    }
    // what other instances sharing a PostgreSQL database change in the admin, reloaded here
    const changes = new SharedChanges(database.db, log);
    changes.on('access', async () => {
      const saved = await loadAccess(database.db);
      if (saved) applyAccess(config, saved);
    });
    const router = new ProviderRouter(options.providers ?? (await createProviders(config)), {
      ...config.routing,
      limits: providerLimits(config),
    });
    // one set, shared: a connection added in the admin is free for pricing and budgets at once
    const localProviders = localProviderNames(config);
    const deps: EngineDeps = {
      db: database.db,
      config,
      router,
      catalog: new ModelCatalog(router, config.context.defaultContextLength),
      prices: new PriceTable(config.prices, localProviders),
      experiences,
      conversations: new ConversationService(database.db, instance),
      log,
      now: options.now ?? (() => new Date()),
      ...(database.kind === 'postgres' ? { claimant: instance } : {}),
    };
    let secrets: SecretBox | null = null;
    const connections = new ConnectionService({
      db: database.db, router, catalog: deps.catalog, localProviders, log, now: deps.now,
      configured: router.providerNames, changes,
      secrets: () => (secrets ??= loadSecretBox(config.dataDir, options.env ?? process.env)),
    });
    await connections.loadAll();
    const budgets = new BudgetService({ db: database.db, config, prices: deps.prices, localProviders, now: deps.now, log, changes, instance });
    await budgets.start();
    changes.on('budgets', () => budgets.reload());
    changes.on('connections', () => connections.loadAll());
    deps.budgets = budgets;
    // search and knowledge on either database: FTS5 + sqlite-vec in the file, tsvector + pgvector on PostgreSQL
    if (database.kind === 'postgres') log.info(`database: PostgreSQL at ${database.where}`);
    deps.search = createSearch({ database, config, router, prices: deps.prices, log, now: deps.now });
    const indexer = deps.search.indexer;
    const knowledge = createKnowledge({ database, config, router, prices: deps.prices, log, now: deps.now });
    deps.knowledge = knowledge;
    const tools = new ToolRegistry();
    deps.tools = tools;
    deps.approvals = new ApprovalDesk((entry) => writeAudit(database.db, entry));
    const engine = new Engine(deps);
    const search = deps.search;
    tools.put(createBuiltinTools({
      config: config.tools, now: deps.now,
      search: search && { search, scopeFor: (caller) => scopeForCaller(deps, caller, engine.directory(caller.platform), { isDirect: caller.isDirect ?? false }) },
      knowledge,
    }));
    const mcp = new McpServers(config.mcp.servers, { dataDir: config.dataDir, env: options.env ?? process.env, logger: log });
    const offerMcp = (): void => {
      for (const name of tools.sourceNames) if (name !== BUILTIN_SOURCE && !mcp.get(name)) tools.remove(name);
      for (const server of mcp.sources()) tools.put(server);
    };
    // stored servers come after the config file's, whose names they may not take
    const mcpStore = new McpServerStore({
      db: database.db, mcp, changes, configured: Object.keys(config.mcp.servers), log, now: deps.now,
      secrets: () => (secrets ??= loadSecretBox(config.dataDir, options.env ?? process.env)),
    });
    await mcpStore.loadAll();
    changes.on('mcp', () => mcpStore.loadAll());
    offerMcp();
    mcp.onChanged(offerMcp);
    // servers connect in the background: a slow one must not hold up the chat
    void mcp.start();
    const platforms = new PlatformStatusBoard(deps.now);
    const metrics = new Metrics(platforms);
    const readiness = new ReadinessBoard();
    const stopObserving = observeUsage(database.db, (rows) => {
      metrics.observeUsage(rows);
      if (rows.some((r) => r.purpose === 'chat' && (r.status === 'ok' || r.status === 'fallback'))) readiness.answered();
    });
    await changes.start();
    void indexer.start();
    // nothing is being added yet: a document still being read was cut short by the last stop
    await knowledge?.failInterrupted();
    void knowledge.indexer.start();
    return {
      engine,
      deps,
      database,
      platforms,
      metrics,
      readiness,
      budgets,
      connections,
      mcp,
      mcpStore,
      knowledge,
      changes,
      instance,
      sharedState:
        database.kind === 'postgres'
          ? (platform) => new DatabasePlatformState(database.db, instance, platformLease(platform), () => (secrets ??= loadSecretBox(config.dataDir, options.env ?? process.env)))
          : undefined,
      close: async () => {
        await alive?.stop();
        await changes.stop();
        stopObserving();
        budgets.stop();
        await indexer?.stop();
        await knowledge?.indexer.stop();
        deps.approvals?.closeAll();
        engine.turns.stopAll();
        await mcp.stop();
        await router.stop();
        await database.close();
      },
    };
  } catch (err) {
    await database.close();
    // a file whose header is fine can still be damaged further in, or on a read-only mount
    throw (database.kind === 'sqlite' ? databaseFileProblem(err, database.file) : null) ?? err;
  }
}
