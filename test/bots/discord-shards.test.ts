import { afterEach, describe, expect, it } from 'vitest';
import { createDiscordAdapter } from '../../src/bots/discord/index.js';
import { startAdapter, stopAdapter } from '../../src/core/runtime.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/index.js';
import { adapterContext, startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { PATIENT_ROUTING, until } from '../support/wait.js';

/** Guild ids on shard 0 and shard 1 of 2: Discord puts a guild on shard (id >> 22) % count. */
const GUILD_ON_0 = ((23_841_857_910n << 22n) + 1n).toString();
const GUILD_ON_1 = ((23_841_857_911n << 22n) + 1n).toString();
const CHANNEL_ON_0 = '300000000000000010';
const CHANNEL_ON_1 = '300000000000000020';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function world(shards: number | 'auto', recommended = 1): Promise<{ discord: FakeDiscord; rt: TestRuntime; adapter: ReturnType<typeof createDiscordAdapter> }> {
  const discord = await startFakeDiscord({
    shards: recommended,
    guilds: [
      { id: GUILD_ON_0, name: 'Even', channels: [{ id: CHANNEL_ON_0, name: 'general' }] },
      { id: GUILD_ON_1, name: 'Odd', channels: [{ id: CHANNEL_ON_1, name: 'general' }] },
    ],
  });
  cleanup.push(() => discord.close());
  const rt = await startTestRuntime({
    config: (c) => ({ ...c, routing: { ...c.routing, ...PATIENT_ROUTING }, discord: { ...c.discord, token: 'fake-token', apiBaseURL: discord.apiUrl, shards } }),
  });
  cleanup.push(() => rt.shutdown());
  const adapter = createDiscordAdapter(adapterContext(rt));
  await startAdapter(rt.engine, adapter);
  cleanup.push(() => stopAdapter(rt.engine, adapter));
  return { discord, rt, adapter };
}

async function answered(discord: FakeDiscord, channelId: string, question: string): Promise<void> {
  discord.userSays({ channelId, content: question, mentionsBot: true });
  await until(() => discord.threads.some((t) => t.parentId === channelId && discord.messagesIn(t.id).some((m) => m.content === `Echo: ${question}`)), 30_000);
}

describe('Discord shards on one instance', () => {
  it('the fake routes each guild to its shard, DMs to shard 0, and lists only a shard’s guilds in READY', async () => {
    expect([GUILD_ON_0, GUILD_ON_1].map((g) => Number((BigInt(g) >> 22n) % 2n))).toEqual([0, 1]);
    const { discord } = await world(2);
    expect(discord.identifies.map((d) => d.shard).sort()).toEqual([[0, 2], [1, 2]]);
    const readies = discord.dispatched.filter((d) => d.t === 'READY').map((d) => d.d as { shard: number[]; guilds: Array<{ id: string }> });
    expect(readies.map((r) => [r.shard[0], r.guilds.map((g) => g.id)]).sort()).toEqual([[0, [GUILD_ON_0]], [1, [GUILD_ON_1]]]);
    expect(discord.connectedShards.sort()).toEqual([[0, 2], [1, 2]]);
  });

  it('one client with both shards answers a mention in a guild of each shard once, and a DM', { timeout: 60_000 }, async () => {
    const { discord, adapter } = await world(2);
    expect(adapter.status()).toMatchObject({ connected: true, detail: expect.stringContaining('shards 0, 1 of 2') });
    await answered(discord, CHANNEL_ON_0, 'on shard zero');
    await answered(discord, CHANNEL_ON_1, 'on shard one');
    discord.dmSays({ content: 'a direct question' });
    await until(() => discord.dmMessages().some((m) => m.content === 'Echo: a direct question'), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const answers = discord.threads.flatMap((t) => discord.messagesIn(t.id)).map((m) => m.content).filter((c) => c.startsWith('Echo:'));
    expect(answers.sort()).toEqual(['Echo: on shard one', 'Echo: on shard zero']);
    // the commands were registered once, not once per shard
    expect(discord.rest.filter((r) => r.route.includes('commands') && r.method === 'PUT')).toHaveLength(1);
  });

  it("with shards 'auto' connects as many shards as GET /gateway/bot recommends", { timeout: 60_000 }, async () => {
    const { discord, adapter } = await world('auto', 2);
    expect(discord.connectedShards.sort()).toEqual([[0, 2], [1, 2]]);
    expect(await adapter.shardCount()).toBe(2);
    await answered(discord, CHANNEL_ON_1, 'auto sharded');
  });

  it('holds shards on clients of their own: dropping one leaves the other connected', { timeout: 60_000 }, async () => {
    const { discord, adapter, rt } = await world(2);
    await stopAdapter(rt.engine, adapter);
    await adapter.holdShard(1, 2);
    expect(adapter.heldShards()).toEqual([1]);
    expect(adapter.status()).toMatchObject({ connected: true, detail: expect.stringContaining('shard 1 of 2') });
    // the guild on shard 1 is answered; a command registration is left to shard 0's holder
    const puts = discord.rest.filter((r) => r.route.includes('commands') && r.method === 'PUT').length;
    await answered(discord, CHANNEL_ON_1, 'held alone');
    await adapter.holdShard(0, 2);
    expect(discord.rest.filter((r) => r.route.includes('commands') && r.method === 'PUT')).toHaveLength(puts + 1);
    const connections = discord.connections;
    await adapter.releaseShard(0);
    expect(discord.connectedShards).toEqual([[1, 2]]);
    await answered(discord, CHANNEL_ON_1, 'still here');
    expect(discord.connections).toBe(connections);
  });

  it('says which held shard could not connect', { timeout: 60_000 }, async () => {
    const discord = await startFakeDiscord({ token: 'the-real-token' });
    cleanup.push(() => discord.close());
    const rt = await startTestRuntime({ config: (c) => ({ ...c, discord: { ...c.discord, token: 'a-wrong-token', apiBaseURL: discord.apiUrl, shards: 2 } }) });
    cleanup.push(() => rt.shutdown());
    const adapter = createDiscordAdapter(adapterContext(rt));
    await expect(adapter.holdShard(1, 2)).rejects.toThrow();
    expect(adapter.heldShards()).toEqual([]);
    expect(adapter.status()).toMatchObject({ connected: false, detail: expect.stringContaining('shard 1 could not connect') });
  });
});
