import type { DiscordAdapter } from './bots/discord/index.js';
import { nowMs } from './core/db/dialect.js';
import type { Db } from './core/db/open.js';
import { errorMessage } from './core/errors.js';
import { keepLease, type KeptLease } from './core/instances/keeper.js';
import type { Leases } from './core/instances/leases.js';
import { platformLease } from './core/instances/platform-state.js';
import type { Logger } from './core/log.js';

/**
 * The lease of Discord shard `id` of `count`. One shard keeps the name the whole connection had
 * before shards, so instances of an older release and this one never both connect during an upgrade.
 */
export const shardLease = (id: number, count: number): string => (count === 1 ? platformLease('discord') : `${platformLease('discord')}:shard:${id}`);

export interface HeldShards {
  /** the shard count split among the instances */
  readonly count: number;
  /** settles after the first round: the shards taken then are connected (or failed to) */
  readonly settled: Promise<void>;
  /** Stops balancing and gives every held shard up (disconnected first). */
  stop(): Promise<void>;
}

export interface HoldShardsOptions {
  db: Db;
  leases: Leases;
  adapter: DiscordAdapter;
  ttlMs: number;
  log: Logger;
  /** the held shards changed (none: standby) */
  onChange: (held: number[], count: number) => void;
  /** before a gained shard connects: what a dead holder left unfinished is given back for the catch-up */
  beforeConnect?: () => Promise<void>;
}

/**
 * Holds Discord's shards among the instances sharing the database, each under its own lease. Every
 * renewal period each instance looks at who holds what. A shard nobody holds is taken at once by
 * an instance below its share, ceil(shards / live instances), and by any instance when it is still
 * unheld a period later (so none stays unheld while an instance lives). An instance holding more
 * than its share gives one away when another live instance holds at least two fewer, and does not
 * take that shard back for two periods, so the other takes it.
 */
export async function holdDiscordShards(options: HoldShardsOptions): Promise<HeldShards> {
  const { db, leases, adapter, ttlMs, log } = options;
  const me = leases.holder;
  const count = await adapter.shardCount();
  const period = Math.floor(ttlMs / 3);
  const keepers = new Map<number, KeptLease>();
  /** shard → when this instance may take it again after giving it away */
  const givenAway = new Map<number, number>();
  /** shards being connected after their lease was gained (a round must not connect them meanwhile) */
  const gaining = new Set<number>();
  /** the shards nobody held at the last look */
  let unheldBefore = new Set<number>();
  // instances start at different shards, so two starting together rarely reach for the same one
  const offset = [...me].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 0) % count;
  const order = [...Array(count).keys()].map((i) => (i + offset) % count);
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let round: Promise<void> = Promise.resolve();

  const held = (): number[] => [...keepers].filter(([, k]) => k.held).map(([id]) => id).sort((a, b) => a - b);
  const report = (): void => options.onChange(held(), count);

  const take = (id: number): KeptLease => {
    const keeper = keepLease(leases, shardLease(id, count), {
      ttlMs,
      onGained: async () => {
        gaining.add(id);
        await options.beforeConnect?.().catch((err) => log.warn(`discord: could not look for events a stopped instance left unfinished: ${errorMessage(err)}`));
        await adapter.holdShard(id, count).catch((err) => log.error(`discord: shard ${id} of ${count} could not connect: ${errorMessage(err)}`));
        gaining.delete(id);
        report();
      },
      onLost: async (reason) => {
        await adapter.releaseShard(id).catch((err) => log.warn(`discord: stopping shard ${id} failed: ${errorMessage(err)}`));
        log.info(`discord: shard ${id} of ${count} given up (${reason})`);
        report();
      },
      log,
    });
    keepers.set(id, keeper);
    return keeper;
  };

  const giveUp = async (id: number): Promise<void> => {
    const keeper = keepers.get(id);
    keepers.delete(id);
    await keeper?.stop();
  };

  /** Who holds each shard lease and which instances are live (their lease good for a while yet). */
  async function look(): Promise<{ holders: Map<number, string>; live: string[] }> {
    const rows = await db
      .selectFrom('leases')
      .select((eb) => ['name', 'holder', eb(eb.ref('expires_at'), '-', nowMs(db)).as('remaining')])
      .where((eb) => eb.or([eb('name', 'like', 'instance:%'), eb('name', 'like', 'platform:discord%')]))
      .where('expires_at', '>', nowMs(db))
      .execute();
    const holders = new Map<number, string>();
    for (let id = 0; id < count; id++) {
      const row = rows.find((r) => r.name === shardLease(id, count));
      if (row) holders.set(id, row.holder);
    }
    // an instance killed a while ago still has some of its lease: not one to hand a shard to
    const live = rows.filter((r) => r.name.startsWith('instance:') && Number(r.remaining) > ttlMs / 3).map((r) => r.holder);
    if (!live.includes(me)) live.push(me);
    return { holders, live };
  }

  async function balance(): Promise<void> {
    const { holders, live } = await look();
    const now = Date.now();
    const share = Math.ceil(count / live.length);
    const started: KeptLease[] = [];
    const unheld = new Set<number>();
    for (const id of order) {
      const holder = holders.get(id);
      const keeper = keepers.get(id);
      if (keeper && !keeper.held && holder && holder !== me) await giveUp(id); // another won it
      else if (!keeper && !holder && (givenAway.get(id) ?? 0) <= now) {
        unheld.add(id);
        // below its share an instance takes it now; at its share, when nobody took it in a whole period
        if (keepers.size < share || unheldBefore.has(id)) started.push(take(id));
      }
    }
    unheldBefore = unheld;
    await Promise.all(started.map((k) => k.settled));
    const mine = held();
    // a shard whose connection failed (Discord unreachable) is tried again while it is held
    for (const id of mine) {
      if (!gaining.has(id) && !adapter.heldShards().includes(id)) {
        await adapter.holdShard(id, count).then(report, (err) => log.error(`discord: shard ${id} of ${count} could not connect: ${errorMessage(err)}`));
      }
    }
    const fewest = Math.min(...live.filter((name) => name !== me).map((name) => [...holders.values()].filter((h) => h === name).length));
    if (mine.length > share && fewest < mine.length - 1 && holders.size === count) {
      const id = mine.at(-1)!;
      log.info(`discord: giving shard ${id} of ${count} to another instance (${mine.length} held, a share is ${share})`);
      givenAway.set(id, now + 2 * period);
      await giveUp(id);
    }
  }

  const loop = (): void => {
    round = balance()
      .catch((err) => log.warn(`discord: could not look at who holds the shards: ${errorMessage(err)}`))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, period).unref();
      });
  };
  loop();
  const settled = round;

  return {
    count,
    settled,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await round;
      await Promise.all([...keepers.keys()].map((id) => giveUp(id)));
    },
  };
}
