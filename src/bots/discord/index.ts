import { Routes, type Client } from 'discord.js';
import { errorMessage } from '../../core/errors.js';
import type { PlatformDirectory } from '../../core/search/directory.js';
import type { AdapterContext, AdapterStatus, ChatAdapter } from '../adapter.js';
import { connectDiscord, describeShards, shardsLine, type DiscordConnection } from './connection.js';
import { DISCORD } from './inbound.js';

export { shardOf } from './connection.js';

export interface DiscordAdapter extends ChatAdapter {
  /** the client of the first connection (on one instance, the only one: it has every shard) */
  readonly client: Client;
  /** how many missed messages the catch-ups after the last starts went through */
  caughtUp(): Promise<number>;
  /** The shard count to split among instances: the config's, or what GET /gateway/bot recommends. */
  shardCount(): Promise<number>;
  /** Connects shard `id` of `count` on a client of its own (several instances, each holding some shards). */
  holdShard(id: number, count: number): Promise<void>;
  /** Disconnects shard `id`; the other shards this instance holds stay connected. */
  releaseShard(id: number): Promise<void>;
  /** the shards held through `holdShard`, in order */
  heldShards(): number[];
}

/**
 * Threadloom on Discord. One instance connects every shard on one client (`start`). Instances
 * sharing a database each hold some shards (`holdShard`): a client per shard, so gaining or losing
 * one shard never reconnects the others (discord.js fixes a client's shards when it logs in).
 */
/** the key of the one connection over every shard (one instance) */
const ALL = -1;

export function createDiscordAdapter(context: AdapterContext): DiscordAdapter {
  const { shards } = context.config.discord;
  const all = connectDiscord(context, shards === 'auto' ? 'auto' : { ids: [...Array(shards).keys()], count: shards });
  /** connected now, by shard: `all` under ALL after start, else one per held shard */
  const connections = new Map<number, DiscordConnection>();
  const live = (): DiscordConnection[] => [...connections.values()];
  /** held shards whose connection failed, and why (tried again by the holder) */
  const failed = new Map<number, string>();

  const directory: PlatformDirectory = {
    // each client sees the channels of its own shards' guilds
    async visibleChannels(userId, channelIds) {
      const seen = await Promise.all(live().map((c) => c.directory.visibleChannels(userId, channelIds)));
      return new Set(seen.flatMap((s) => [...s]));
    },
    async permalink(ref) {
      for (const c of live()) {
        const link = await c.directory.permalink(ref);
        if (link) return link;
      }
      return null;
    },
  };

  return {
    platform: DISCORD,
    get client() {
      return live()[0]?.client ?? all.client;
    },
    directory,
    caughtUp: async () => (await Promise.all(live().map((c) => c.caughtUp()))).reduce((a, b) => a + b, 0),
    async shardCount() {
      if (shards !== 'auto') return shards;
      all.client.rest.setToken(context.config.discord.token ?? '');
      const answer = (await all.client.rest.get(Routes.gatewayBot())) as { shards: number };
      return Math.max(1, answer.shards);
    },
    async holdShard(id, count) {
      if (connections.has(id)) return;
      const connection = connectDiscord(context, { ids: [id], count });
      connections.set(id, connection);
      try {
        await connection.start();
        failed.delete(id);
      } catch (err) {
        connections.delete(id);
        failed.set(id, errorMessage(err));
        await connection.stop().catch(() => undefined);
        throw err;
      }
    },
    async releaseShard(id) {
      const connection = connections.get(id);
      connections.delete(id);
      failed.delete(id);
      await connection?.stop();
    },
    heldShards: () => [...connections.keys()].filter((id) => id !== ALL).sort((a, b) => a - b),
    async start() {
      connections.set(ALL, all);
      await all.start();
    },
    async stop() {
      const stopping = live();
      connections.clear();
      failed.clear();
      await Promise.all(stopping.map((c) => c.stop()));
    },
    status(): AdapterStatus {
      const [failure] = failed;
      if (failure) return { connected: false, detail: `shard ${failure[0]} could not connect: ${failure[1]}` };
      const statuses = live().map((c) => c.status());
      if (!statuses.length) return { connected: false, detail: 'holds no shard' };
      const down = statuses.find((s) => !s.connected);
      const sharded = shards === 'auto' || shards > 1;
      const held = connections.has(ALL) ? describeShards(all.client) : shardsLine(this.heldShards(), live()[0]!.client.options.shardCount);
      return { connected: !down, detail: `${(down ?? statuses[0]!).detail}${sharded ? ` (${held})` : ''}` };
    },
  };
}

