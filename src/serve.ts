import { configSecrets, type Config } from './core/config.js';
import { errorMessage, ThreadloomError } from './core/errors.js';
import { adminContext, startAdmin, type RunningAdmin } from './admin/index.js';
import { BackupService } from './core/backups/service.js';
import { flushCompileCache } from './core/compile-cache.js';
import { pruneProcessedEvents } from './core/turns/gate.js';
import type { DataDirLock } from './core/data-dir-lock.js';
import { checkDefaultModel, readinessLine } from './core/providers/readiness.js';
import { modelDefaults } from './core/settings.js';
import { createLogger } from './core/log.js';
import { startRuntime, type Runtime } from './core/runtime.js';
import { connectPlatforms, type ConnectedPlatforms, type PlatformLoader } from './connect-platforms.js';

function slackConfigured(config: Config): boolean {
  return Boolean(config.slack.botToken && (config.slack.appToken || config.slack.signingSecret));
}

function matrixConfigured(config: Config): boolean {
  return Boolean(config.matrix.homeserverURL && (config.matrix.accessToken || (config.matrix.userId && config.matrix.password)));
}

function platformTable(config: Config): Array<[string, boolean, string]> {
  return [
    ['discord', Boolean(config.discord.token), 'set DISCORD_TOKEN'],
    ['slack', slackConfigured(config), 'set SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP)'],
    ['matrix', matrixConfigured(config), 'set MATRIX_HOMESERVER_URL and MATRIX_ACCESS_TOKEN (or MATRIX_USER_ID + MATRIX_PASSWORD)'],
  ];
}

/** One line per platform that is off, saying what to set to enable it. */
function platformLines(config: Config): string[] {
  const lines: string[] = [];
  for (const [name, configured, hint] of platformTable(config)) {
    if (configured) continue; // they report themselves when they connect
    lines.push(`${name}: off — ${hint} to enable`);
  }
  return lines;
}

/**
 * Everything after the data dir is locked: the database, the admin web and the platforms, until a
 * signal stops them. "ready" is logged once every configured platform has connected (or failed to).
 */
export async function serve(config: Config, dataDirLock: DataDirLock): Promise<void> {
  const log = createLogger({ level: config.logLevel, format: config.logFormat, secrets: configSecrets(config) });
  let runtime: Runtime | null = null;
  let platforms: ConnectedPlatforms | null = null;
  let maintenance: NodeJS.Timeout | null = null;
  let admin: RunningAdmin | null = null;
  let stopBackups: (() => Promise<void>) | null = null;
  let stopping = false;
  // registered before anything starts, so a signal during start-up also shuts down cleanly
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    if (maintenance) clearInterval(maintenance);
    if (runtime) {
      // adapters stay connected meanwhile: the answers still being written need their last edits
      const { finished, cut } = await runtime.engine.drain(config.shutdownGraceMs);
      if (finished + cut > 0) log.info(`answers in flight: ${finished} finished, ${cut} cut short after ${config.shutdownGraceMs} ms`);
    }
    await platforms?.stop().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await stopBackups?.().catch(() => undefined);
    await runtime?.close();
    dataDirLock.release();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  // Matrix's end-to-end encryption is 5 MB of WebAssembly that V8 compiles on its own threads:
  // started now, it compiles while the rest loads on this one (the SDK's own call then finds it done)
  if (matrixConfigured(config)) void import('@matrix-org/matrix-sdk-crypto-wasm').then((wasm) => wasm.initAsync()).catch(() => undefined);
  runtime = await startRuntime(config, { log });
  // the admin web (and /healthz) come up first: a platform's first connection can take a while
  const running = runtime;
  // a restored file has its own Experiences and its own search index (maybe of another model)
  const onRestored = async (): Promise<void> => {
    running.deps.experiences.clearCache();
    await running.deps.search?.indexer.restart();
    await running.deps.knowledge?.indexer.restart();
  };
  const backups = new BackupService({ database: running.database, dataDir: config.dataDir, config: config.backups, log, onRestored, databaseUrl: config.database.url, instance: running.instance });
  stopBackups = backups.startSchedule();
  try {
    admin = await startAdmin(adminContext(running, { backups }));
  } catch (err) {
    // the bots work without it; a port in use is the usual reason
    log.error(`admin web could not start on ${config.admin.host}:${config.admin.port}: ${errorMessage(err)} (set THREADLOOM_ADMIN_PORT)`);
  }
  // platform SDKs load only when their platform is configured; each platform connects as soon as
  // its own SDK is loaded, so one's handshake overlaps the next one's loading
  const context = { engine: runtime.engine, config, log, sharedState: runtime.sharedState };
  const configured: PlatformLoader[] = [];
  if (config.discord.token) configured.push(['discord', async () => (await import('./bots/discord/index.js')).createDiscordAdapter(context)]);
  if (slackConfigured(config)) configured.push(['slack', async () => (await import('./bots/slack/index.js')).createSlackAdapter(context)]);
  if (matrixConfigured(config)) configured.push(['matrix', async () => (await import('./bots/matrix/index.js')).createMatrixAdapter(context)]);
  const board = runtime.platforms;
  for (const [platform, isConfigured, hint] of platformTable(config)) if (!isConfigured) board.set(platform, 'off', `not configured: ${hint}`);
  // an adapter that cannot connect (bad token, no network) is reported; the others keep running;
  // on PostgreSQL, Discord and Matrix connect only on the instance holding their lease
  const connected = await connectPlatforms(running, configured, log, config.database.leaseMs);
  platforms = connected;
  // e.g. a second Threadloom on the same data dir: it must not run beside the first
  if (connected.fatal) {
    await connected.stop();
    await admin?.close().catch(() => undefined);
    await stopBackups?.().catch(() => undefined);
    await runtime.close();
    throw connected.fatal;
  }
  const { db } = runtime.deps;
  let ticks = 0;
  maintenance = setInterval(() => {
    // the dashboard shows what each adapter says of itself now (a dropped connection, a reconnect)
    for (const adapter of connected.adapters) {
      const status = adapter.status();
      board.set(adapter.platform, status.connected ? 'connected' : 'error', status.detail);
    }
    if (++ticks % 120 === 0) {
      pruneProcessedEvents(db, new Date(Date.now() - 7 * 86_400_000)).catch((err) => log.warn('pruning processed events failed', { error: String(err) }));
    }
  }, 30_000);

  for (const line of platformLines(config)) log.info(line);
  const { defaultModel } = await modelDefaults(db, config);
  log.info(`threadloom ready in ${Math.round(performance.now())} ms (data in ${config.dataDir}, default model ${defaultModel})`);
  // after "ready": what was compiled for this start is kept for the next one
  flushCompileCache();
  // /metrics' library and its process collectors (GC, event-loop lag) were not needed to get here
  void runtime.metrics.load();
  // after "ready", not before it: a provider that does not answer must not hold the start up
  const readiness = await checkDefaultModel(runtime.deps.router, defaultModel);
  runtime.readiness.set(readiness);
  const line = readinessLine(readiness, admin?.url ?? null);
  if (line) log.warn(line);
}
