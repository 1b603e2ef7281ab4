import { afterEach, describe, expect, it } from 'vitest';
import { createDiscordAdapter } from '../../src/bots/discord/index.js';
import { connectPlatforms, type ConnectedPlatforms } from '../../src/connect-platforms.js';
import type { Runtime } from '../../src/core/runtime.js';
import { openPostgres } from '../../src/core/db/postgres.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/index.js';
import { startFakeOpenAI } from '../fakes/providers.js';
import type { ThreadloomProcess } from '../support/process.js';
import { startInstance } from '../support/instances.js';
import { adapterContext, startTestRuntime } from '../support/runtime.js';
import { TEST_POSTGRES_URL, freshPostgresDatabase } from '../support/postgres.js';
import { until } from '../support/wait.js';

/**
 * Two Threadloom processes on one PostgreSQL, Discord in two shards: each instance holds one shard
 * (the first takes both, then gives one to the second), each guild's messages are answered once;
 * the holder of shard 0 (guild 0's events, DMs, global commands) is killed (SIGKILL), and the other
 * takes shard 0 over once its lease lapses, keeps shard 1 connected throughout, and answers what
 * was asked meanwhile once.
 */

const LEASE_MS = 8_000;
/** a start through tsx (it compiles the tree) on a loaded machine */
const PATIENT = 90_000;
const ADA = '200000000000000001';
/** guilds on shard 0 and 1 of 2: Discord puts a guild on shard (id >> 22) % count */
const GUILDS = [((23_841_857_910n << 22n) + 1n).toString(), ((23_841_857_911n << 22n) + 1n).toString()];
const CHANNELS = ['300000000000000010', '300000000000000020'];

const started: ThreadloomProcess[] = [];
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const p of started.splice(0)) p.child.kill('SIGKILL');
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** Every answer the bot wrote (threads and DMs) to `question` (the fake provider echoes it). */
function answersTo(discord: FakeDiscord, question: string): number {
  const places = [...discord.threads.map((t) => t.id), ...CHANNELS];
  const messages = [...places.flatMap((id) => discord.messagesIn(id)), ...discord.dmMessages(ADA)];
  return messages.filter((m) => m.content.startsWith(`Echo: ${question}`)).length;
}

/** The instance name a process's log gives with its first lease. */
const nameOf = (p: ThreadloomProcess): string => /held by this instance \(([^)]+)\)/.exec(p.stderr())?.[1] ?? '';

describe.skipIf(!TEST_POSTGRES_URL)('Discord shards across instances on PostgreSQL', () => {
  it('holds each shard on exactly one instance and moves a killed holder’s shard to the other', { timeout: 5 * PATIENT }, async () => {
    const server = await freshPostgresDatabase(TEST_POSTGRES_URL!);
    cleanup.push(() => server.drop());
    const [discord, provider] = await Promise.all([
      startFakeDiscord({ guilds: GUILDS.map((id, i) => ({ id, name: `Guild ${i}`, channels: [{ id: CHANNELS[i]!, name: 'general' }] })) }),
      startFakeOpenAI({ models: ['*'] }),
    ]);
    cleanup.push(() => discord.close(), () => provider.close());
    const database = openPostgres(server.url);
    cleanup.push(() => database.close());
    /** shard → the instance whose lease on it is good now */
    const holders = async (): Promise<Array<string | undefined>> => {
      const rows = await database.db.selectFrom('leases').select(['name', 'holder']).where('name', 'like', 'platform:discord:shard:%').where('expires_at', '>', Date.now()).execute();
      return [0, 1].map((id) => rows.find((r) => r.name === `platform:discord:shard:${id}`)?.holder);
    };
    const connected = (): string[] => discord.connectedShards.map(([id, count]) => `${id}/${count}`).sort();
    const instance = (name: string): ThreadloomProcess => {
      const p = startInstance(name, {
        databaseUrl: server.url, leaseMs: LEASE_MS, providerUrl: provider.url, cleanup,
        env: { DISCORD_TOKEN: 'shards-token', DISCORD_API_BASE_URL: discord.apiUrl, DISCORD_SHARDS: '2' },
      });
      started.push(p);
      return p;
    };

    // the first instance alone takes both shards; the second one's start makes the first give one away
    const a = instance('a');
    await a.waitFor(/threadloom ready/);
    expect(connected()).toEqual(['0/2', '1/2']);
    const b = instance('b');
    await b.waitFor(/threadloom ready/);
    await b.waitFor(/lease platform:discord:shard:\d: held by this instance/);
    await until(async () => {
      const now = await holders();
      return now[0] && now[1] && now[0] !== now[1] && connected().join() === '0/2,1/2';
    }, PATIENT);
    expect(new Set(await holders())).toEqual(new Set([nameOf(a), nameOf(b)]));

    // a mention in a guild of each shard, and a DM (shard 0): each answered once
    for (const [i, channelId] of CHANNELS.entries()) discord.userSays({ channelId, content: `hello from guild ${i}`, mentionsBot: true });
    discord.dmSays({ content: 'hello by DM', authorId: ADA });
    await until(() => ['hello from guild 0', 'hello from guild 1', 'hello by DM'].every((q) => answersTo(discord, q) === 1), PATIENT);

    // kill the holder of shard 0; the survivor keeps shard 1 connected and takes shard 0 over
    const [holder0] = await holders();
    const [victim, survivor] = holder0 === nameOf(a) ? [a, b] : [b, a];
    const shard1Identifies = discord.identifies.filter((d) => d.shard?.[0] === 1).length;
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    await victim.exited;
    // asked while nobody holds shard 0: the next holder finds them when it catches up
    const thread0 = discord.threads.find((t) => t.guildId === GUILDS[0])!;
    discord.userSays({ channelId: thread0.id, content: 'asked while shard 0 was down' });
    discord.dmSays({ content: 'a DM while shard 0 was down', authorId: ADA });
    await survivor.waitFor(/lease platform:discord:shard:0: held by this instance/);
    const leaseTakenMs = Date.now() - killedAt;
    await until(() => connected().join() === '0/2,1/2', PATIENT);
    const connectedMs = Date.now() - killedAt;
    await until(() => answersTo(discord, 'asked while shard 0 was down') === 1 && answersTo(discord, 'a DM while shard 0 was down') === 1, PATIENT);
    const answeredMs = Date.now() - killedAt;
    console.log(`discord shards: the survivor held shard 0 ${leaseTakenMs} ms after its holder was killed, connected it at ${connectedMs} ms, answered what was missed at ${answeredMs} ms (lease ${LEASE_MS} ms)`);
    expect(leaseTakenMs).toBeLessThan(30_000);
    expect(await holders()).toEqual([nameOf(survivor), nameOf(survivor)]);
    // shard 1 was not reconnected when shard 0 joined it on the survivor
    expect(discord.identifies.filter((d) => d.shard?.[0] === 1).length).toBe(shard1Identifies);

    discord.userSays({ channelId: CHANNELS[1]!, content: 'after the takeover', mentionsBot: true });
    await until(() => answersTo(discord, 'after the takeover') === 1, PATIENT);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const questions = ['hello from guild 0', 'hello from guild 1', 'hello by DM', 'asked while shard 0 was down', 'a DM while shard 0 was down', 'after the takeover'];
    expect(questions.map((q) => answersTo(discord, q))).toEqual(questions.map(() => 1));
    // commands were registered by shard 0's holders only: the first instance, then the survivor
    expect(discord.rest.filter((r) => r.route.includes('commands') && r.method === 'PUT').length).toBeLessThanOrEqual(3);
  });

  it('shows on each dashboard the shards its instance holds, standby on a third, and moves a stopped one’s shard', { timeout: PATIENT }, async () => {
    const server = await freshPostgresDatabase(TEST_POSTGRES_URL!);
    cleanup.push(() => server.drop());
    const discord = await startFakeDiscord({ guilds: GUILDS.map((id, i) => ({ id, name: `Guild ${i}`, channels: [{ id: CHANNELS[i]!, name: 'general' }] })) });
    cleanup.push(() => discord.close());
    const lease = 3_000;
    const instance = async (): Promise<{ runtime: Runtime; platforms: ConnectedPlatforms }> => {
      const rt = await startTestRuntime({
        config: (c) => ({ ...c, database: { ...c.database, url: server.url, leaseMs: lease }, discord: { ...c.discord, token: 'fake-token', apiBaseURL: discord.apiUrl, shards: 2 } }),
      });
      const runtime = rt as unknown as Runtime;
      const platforms = await connectPlatforms(runtime, [['discord', async () => createDiscordAdapter(adapterContext(runtime))]], runtime.deps.log, lease);
      cleanup.push(() => rt.shutdown(), () => platforms.stop());
      return { runtime, platforms };
    };
    const board = (i: { runtime: Runtime }) => i.runtime.platforms.get('discord');

    const a = await instance();
    expect(board(a)).toMatchObject({ state: 'connected', detail: expect.stringContaining('shards 0, 1 of 2') });
    const b = await instance();
    // the first gives one shard away within a few lease thirds, and the second takes it
    await until(() => board(b).state === 'connected' && /shard \d of 2/.test(board(a).detail), 8 * lease);
    const shardOfA = /shard (\d) of 2/.exec(board(a).detail)![1];
    expect(board(b).detail).toContain(`shard ${1 - Number(shardOfA)} of 2`);
    const c = await instance();
    expect(board(c)).toMatchObject({ state: 'standby', detail: expect.stringContaining('holds none of the 2 shards') });
    await new Promise((resolve) => setTimeout(resolve, lease));
    expect(board(c).state).toBe('standby');

    // a stops (its leases given back): its shard moves, and b and c end with one each
    await a.platforms.stop();
    await until(() => board(b).state === 'connected' && board(c).state === 'connected' && /shard \d of 2/.test(board(b).detail) && /shard \d of 2/.test(board(c).detail), 8 * lease);
    const held = [b, c].map((i) => /shard (\d) of 2/.exec(board(i).detail)![1]).sort();
    expect(held).toEqual(['0', '1']);
    await until(() => discord.connectedShards.map(([id]) => id).sort().join() === '0,1', 4 * lease);
  });
});
