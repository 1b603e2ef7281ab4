import type { ChatAdapter } from './bots/adapter.js';
import type { DiscordAdapter } from './bots/discord/index.js';
import { holdDiscordShards } from './discord-shards.js';
import { errorMessage, ThreadloomError } from './core/errors.js';
import { keepLease, type KeptLease } from './core/instances/keeper.js';
import { Leases } from './core/instances/leases.js';
import { platformLease } from './core/instances/platform-state.js';
import type { Logger } from './core/log.js';
import { startAdapter, stopAdapter, type Runtime } from './core/runtime.js';

/**
 * The platforms one instance at a time connects to when several share a PostgreSQL database:
 * Discord's gateway gives every session of a shard that shard's events (each shard is held on its
 * own, see discord-shards.ts), and Matrix's client keeps a crypto store with one writer. Slack's Socket Mode hands each event to one of the open connections, so every
 * instance connects to Slack (the event-id claim covers Slack's retries).
 */
const ONE_HOLDER = new Set(['discord', 'matrix']);

export type PlatformLoader = [platform: string, load: () => Promise<ChatAdapter>];

export interface ConnectedPlatforms {
  /** the adapters connected now (a leased platform's comes and goes with its lease) */
  readonly adapters: ChatAdapter[];
  /** a platform that must stop the start (a second Threadloom on its data dir) */
  fatal: ThreadloomError | null;
  /** Gives up the leases (their platforms stop first) and stops every other adapter. */
  stop(): Promise<void>;
}

/**
 * Connects the configured platforms, each as soon as its SDK is loaded. On PostgreSQL a
 * one-holder platform is connected only while this instance holds its lease, and handed over to
 * another instance when this one stops renewing it (stopped, or killed: then after the lease
 * lapses). Resolves once every platform this instance connects has connected or failed to.
 */
export async function connectPlatforms(runtime: Runtime, loaders: PlatformLoader[], log: Logger, leaseMs: number): Promise<ConnectedPlatforms> {
  const board = runtime.platforms;
  const adapters: ChatAdapter[] = [];
  const kept: Array<Pick<KeptLease, 'stop'>> = [];
  const connected: ConnectedPlatforms = {
    adapters,
    fatal: null,
    async stop() {
      await Promise.all(kept.map((k) => k.stop()));
      await Promise.all(adapters.splice(0).map((a) => stopAdapter(runtime.engine, a).catch(() => undefined)));
    },
  };
  const connect = async (platform: string, load: () => Promise<ChatAdapter>): Promise<void> => {
    board.set(platform, 'connecting', 'starting');
    const adapter = await load();
    adapters.push(adapter);
    await startAdapter(runtime.engine, adapter).then(
      () => board.set(adapter.platform, 'connected', adapter.status().detail),
      (err) => {
        board.set(adapter.platform, 'error', errorMessage(err));
        if (err instanceof ThreadloomError && err.fatal) connected.fatal = err;
        else log.error(`${adapter.platform}: could not connect: ${errorMessage(err)}`);
      },
    );
  };
  const leases = runtime.database.kind === 'postgres' ? new Leases(runtime.deps.db, runtime.instance) : null;
  /** Discord's shards, each under its own lease: connected while this instance holds them */
  const holdDiscord = async (leases: Leases, load: () => Promise<ChatAdapter>): Promise<void> => {
    const standby = (count: number): void =>
      board.set('discord', 'standby', count === 1 ? 'another instance holds it; this one takes over if that one stops' : `holds none of the ${count} shards: other instances do; this one takes over any whose holder stops`);
    board.set('discord', 'connecting', 'starting');
    const adapter = (await load()) as DiscordAdapter;
    const shards = await holdDiscordShards({
      db: runtime.deps.db,
      leases,
      adapter,
      ttlMs: leaseMs,
      log,
      beforeConnect: () => runtime.engine.releaseOrphanedClaims('discord'),
      onChange(held, count) {
        const at = adapters.indexOf(adapter);
        if (held.length && at < 0) adapters.push(adapter);
        if (!held.length && at >= 0) adapters.splice(at, 1);
        if (held.length && adapter.directory) runtime.engine.registerDirectory(adapter.platform, adapter.directory);
        else if (!held.length) runtime.engine.removeDirectory(adapter.platform);
        const status = adapter.status();
        if (held.length) board.set('discord', status.connected ? 'connected' : 'error', status.detail);
        else standby(count);
      },
    }).catch((err) => {
      board.set('discord', 'error', errorMessage(err));
      log.error(`discord: could not learn the shard count: ${errorMessage(err)}`);
      return null;
    });
    if (!shards) return;
    kept.push(shards);
    await shards.settled;
    if (!adapter.heldShards().length) standby(shards.count);
  };
  await Promise.all(
    loaders.map(async ([platform, load]) => {
      if (!leases || !ONE_HOLDER.has(platform)) return connect(platform, load);
      if (platform === 'discord') return holdDiscord(leases, load);
      const lease = keepLease(leases, platformLease(platform), {
        ttlMs: leaseMs,
        onGained: () => connect(platform, load),
        onLost: async (reason) => {
          const at = adapters.findIndex((a) => a.platform === platform);
          if (at >= 0) await stopAdapter(runtime.engine, adapters.splice(at, 1)[0]!).catch((err) => log.warn(`${platform}: stopping failed: ${errorMessage(err)}`));
          board.set(platform, 'standby', `another instance may hold it (${reason})`);
        },
        log,
      });
      kept.push(lease);
      await lease.settled;
      if (!lease.held) board.set(platform, 'standby', 'another instance holds it; this one takes over if that one stops');
    }),
  );
  return connected;
}
