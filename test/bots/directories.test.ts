/**
 * The platform directories search relies on for privacy (who may read which channel) and for
 * links to stored messages: each through its real SDK against the fake platform, registered by
 * its adapter on start.
 */
import { PassThrough } from 'node:stream';
import { PermissionFlagsBits as P } from 'discord.js';
import type { MatrixClient } from 'matrix-js-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { createConsoleAdapter } from '../../src/bots/console/index.js';
import { createDiscordAdapter } from '../../src/bots/discord/index.js';
import { createMatrixAdapter, type MatrixAdapter } from '../../src/bots/matrix/index.js';
import { slackMessageOf } from '../../src/bots/slack/directory.js';
import { OPEN_DIRECTORY, type PlatformDirectory } from '../../src/core/search/directory.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/index.js';
import { startFakeMatrix, type FakeMatrix } from '../fakes/matrix/index.js';
import { startAdapter, stopAdapter } from '../../src/core/runtime.js';
import { adapterContext, startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { startSlackWorld, type SlackWorld } from '../support/slack.js';
import { until } from '../support/wait.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sorted = (set: Set<string>): string[] => [...set].sort();

describe('Discord directory', () => {
  const GUILD = '200000000000000001';
  const OWNER = '200000000000000002';
  const ALICE = '200000000000000003'; // in the ops role
  const BOB = '200000000000000004'; // no role
  const CAROL = '200000000000000005'; // let into #secret by a member overwrite
  const OUTSIDER = '200000000000000006'; // not in the guild
  const OPS = '200000000000000007';
  const GENERAL = '200000000000000010';
  const SECRET = '200000000000000011';
  const NO_HISTORY = '200000000000000012';
  const BANISHED = '200000000000000013'; // ops may look, alice in particular may not
  const THREAD = '200000000000000020';

  async function start(): Promise<{ discord: FakeDiscord; rt: TestRuntime; adapter: ReturnType<typeof createDiscordAdapter>; directory: PlatformDirectory }> {
    const discord = await startFakeDiscord({
      guilds: [{
        id: GUILD,
        name: 'Homelab',
        ownerId: OWNER,
        roles: [{ id: OPS, name: 'ops' }],
        members: [{ userId: OWNER, username: 'owner' }, { userId: ALICE, username: 'alice', roles: [OPS] }, { userId: BOB, username: 'bob' }, { userId: CAROL, username: 'carol' }],
        channels: [
          { id: GENERAL, name: 'general' },
          { id: THREAD, name: 'a thread', type: 11, parentId: GENERAL },
          {
            id: SECRET, name: 'secret',
            permissionOverwrites: [
              { id: GUILD, type: 'role', deny: P.ViewChannel },
              { id: OPS, type: 'role', allow: P.ViewChannel },
              { id: CAROL, type: 'member', allow: P.ViewChannel },
            ],
          },
          { id: NO_HISTORY, name: 'announcements', permissionOverwrites: [{ id: GUILD, type: 'role', deny: P.ReadMessageHistory }] },
          {
            id: BANISHED, name: 'ops-only',
            permissionOverwrites: [
              { id: GUILD, type: 'role', deny: P.ViewChannel },
              { id: OPS, type: 'role', allow: P.ViewChannel },
              { id: ALICE, type: 'member', deny: P.ViewChannel },
            ],
          },
        ],
      }],
    });
    discord.addUser({ id: OUTSIDER, username: 'outsider' });
    const rt = await startTestRuntime({ config: (c) => ({ ...c, discord: { ...c.discord, token: 'fake-token', apiBaseURL: discord.apiUrl, catchUpMinutes: 0 } }) });
    const adapter = createDiscordAdapter(adapterContext(rt));
    await startAdapter(rt.engine, adapter);
    cleanups.push(async () => {
      await stopAdapter(rt.engine, adapter);
      await rt.shutdown();
      await discord.close();
    });
    const directory = rt.engine.directories.get('discord');
    expect(directory).toBeDefined();
    return { discord, rt, adapter, directory: directory! };
  }

  it('shows each member the channels their roles and overwrites let them read, and nothing to outsiders', async () => {
    const { directory, discord } = await start();
    const all = [GENERAL, SECRET, NO_HISTORY, BANISHED];
    expect(sorted(await directory.visibleChannels(ALICE, all))).toEqual([GENERAL, SECRET]);
    expect(sorted(await directory.visibleChannels(BOB, all))).toEqual([GENERAL]);
    expect(sorted(await directory.visibleChannels(CAROL, all))).toEqual([GENERAL, SECRET]);
    expect(sorted(await directory.visibleChannels(OWNER, all))).toEqual(all.sort());
    expect(await directory.visibleChannels(OUTSIDER, all)).toEqual(new Set());
    // asked once per member within the cache time, however many channels
    const memberFetches = discord.rest.filter((r) => r.route === 'GET /guilds/:guildId/members/:userId');
    expect(memberFetches.filter((r) => r.path.endsWith(`/${ALICE}`))).toHaveLength(1);
    expect(memberFetches.find((r) => r.path.endsWith(`/${OUTSIDER}`))?.status).toBe(404);
    await directory.visibleChannels(ALICE, all);
    expect(discord.rest.filter((r) => r.route === 'GET /guilds/:guildId/members/:userId' && r.path.endsWith(`/${ALICE}`))).toHaveLength(1);
  });

  it('shows a DM only to its person, and a channel it cannot fetch to nobody', async () => {
    const { directory, adapter, discord } = await start();
    const dm = await adapter.client.users.createDM(ALICE);
    adapter.client.channels.cache.delete(dm.id); // fetched from Discord, as after a restart
    const missing = '299999999999999999';
    expect(sorted(await directory.visibleChannels(ALICE, [dm.id, missing, GENERAL]))).toEqual([GENERAL, dm.id].sort());
    expect(sorted(await directory.visibleChannels(BOB, [dm.id, missing, GENERAL]))).toEqual([GENERAL]);
    expect(discord.rest.some((r) => r.path === `/channels/${missing}` && r.status === 404)).toBe(true);
    await expect(directory.visibleChannels(ALICE, [])).resolves.toEqual(new Set());
  });

  it('links to a message in a thread, in a channel and in a DM, and to a thread without a message', async () => {
    const { directory, adapter } = await start();
    const dm = await adapter.client.users.createDM(ALICE);
    const message = '200000000000000099';
    expect(await directory.permalink({ channelId: GENERAL, threadId: THREAD, platformMessageId: message })).toBe(`https://discord.com/channels/${GUILD}/${THREAD}/${message}`);
    expect(await directory.permalink({ channelId: GENERAL, threadId: null, platformMessageId: message })).toBe(`https://discord.com/channels/${GUILD}/${GENERAL}/${message}`);
    expect(await directory.permalink({ channelId: GENERAL, threadId: THREAD, platformMessageId: null })).toBe(`https://discord.com/channels/${GUILD}/${THREAD}`);
    expect(await directory.permalink({ channelId: dm.id, threadId: null, platformMessageId: message })).toBe(`https://discord.com/channels/@me/${dm.id}/${message}`);
    expect(await directory.permalink({ channelId: '299999999999999999', threadId: null, platformMessageId: message })).toBeNull();
  });

  it('is registered while the adapter runs', async () => {
    const { rt, adapter } = await start();
    expect(rt.engine.directories.has('discord')).toBe(true);
    await stopAdapter(rt.engine, adapter);
    expect(rt.engine.directories.has('discord')).toBe(false);
  });
});

describe('Slack directory', () => {
  const ALICE = 'U0ALICE001';
  const BOB = 'U0BOB00001';
  const CAROL = 'U0CAROL001'; // a full member in no channel
  const GUEST = 'U0GUEST001'; // a single-channel guest
  const GENERAL = 'C0GENERAL1'; // public, everyone in it
  const RANDOM = 'C0RANDOM01'; // public, alice and bob in it
  const SECRET = 'C0SECRET01'; // private: alice
  const OLD_GROUP = 'G0OLDGRP01'; // private from before 2021: bob
  const NO_BOT = 'C0NOBOT001'; // private, the bot not in it
  const BIG = 'C0BIGPRIV1'; // private, 450 members, alice last
  const MPIM = 'G0MPIM0001'; // alice, bob and the bot
  const ALICE_DM = 'D0ALICE001';
  const BOB_DM = 'D0BOB00001';
  const MISSING = 'C0MISSING1';

  async function start(): Promise<{ world: SlackWorld; directory: PlatformDirectory }> {
    const world = await startSlackWorld('socket');
    cleanups.push(() => world.close());
    const { slack } = world;
    const bot = slack.botUserId;
    slack.addUser({ id: CAROL, name: 'carol' });
    slack.addUser({ id: GUEST, name: 'guest', guest: 'single' });
    slack.addChannel(RANDOM, 'random', { members: [ALICE, BOB, bot] });
    slack.addChannel(SECRET, 'secret', { kind: 'private', members: [ALICE, bot] });
    slack.addChannel(OLD_GROUP, 'old-group', { kind: 'private', members: [BOB, bot] });
    slack.addChannel(NO_BOT, 'no-bot', { kind: 'private', members: [ALICE] });
    slack.addChannel(BIG, 'big', { kind: 'private', members: [bot, ...Array.from({ length: 448 }, (_, i) => `U0M${String(i).padStart(7, '0')}`), ALICE] });
    slack.addChannel(MPIM, 'mpdm-alice--bob--threadloom-1', { kind: 'mpim', members: [ALICE, BOB, bot] });
    slack.addIm(ALICE_DM, ALICE);
    slack.addIm(BOB_DM, BOB);
    const directory = world.rt.engine.directories.get('slack');
    expect(directory).toBeDefined();
    return { world, directory: directory! };
  }

  const ALL = [GENERAL, RANDOM, SECRET, OLD_GROUP, NO_BOT, BIG, MPIM, ALICE_DM, BOB_DM, MISSING];

  it('shows public channels to full members, private ones, DMs and group DMs to their members only', async () => {
    const { world, directory } = await start();
    expect(sorted(await directory.visibleChannels(ALICE, ALL))).toEqual([ALICE_DM, BIG, SECRET, GENERAL, MPIM, RANDOM].sort());
    expect(sorted(await directory.visibleChannels(BOB, ALL))).toEqual([BOB_DM, GENERAL, MPIM, OLD_GROUP, RANDOM].sort());
    expect(sorted(await directory.visibleChannels(CAROL, ALL))).toEqual([GENERAL, RANDOM]);
    // a guest sees only the channels they are in, public or not
    expect(sorted(await directory.visibleChannels(GUEST, ALL))).toEqual([GENERAL]);
    // the member list of the big channel came in pages
    expect(world.slack.callsTo('conversations.members').filter((c) => c.args.channel === BIG).length).toBeGreaterThan(1);
    // a second look within the cache time asks Slack nothing
    const calls = world.slack.calls.length;
    expect(sorted(await directory.visibleChannels(ALICE, ALL))).toContain(SECRET);
    expect(world.slack.calls.length).toBe(calls);
  });

  it('links to a message, a thread reply, and falls back to the thread or the channel', async () => {
    const { world, directory } = await start();
    const client = world.adapter.app.client;
    const root = (await client.chat.postMessage({ channel: GENERAL, text: 'root' })).ts!;
    const reply = (await client.chat.postMessage({ channel: GENERAL, text: 'reply', thread_ts: root })).ts!;
    const base = 'https://threadloom-test.slack.com/archives';
    const p = (ts: string) => `p${ts.replace('.', '')}`;
    expect(await directory.permalink({ channelId: GENERAL, threadId: null, platformMessageId: `${GENERAL}:${root}` })).toBe(`${base}/${GENERAL}/${p(root)}`);
    expect(await directory.permalink({ channelId: GENERAL, threadId: root, platformMessageId: `${GENERAL}:${reply}` })).toBe(`${base}/${GENERAL}/${p(reply)}?thread_ts=${root}&cid=${GENERAL}`);
    expect(await directory.permalink({ channelId: GENERAL, threadId: root, platformMessageId: reply })).toBe(`${base}/${GENERAL}/${p(reply)}?thread_ts=${root}&cid=${GENERAL}`);
    // a slash command or an ephemeral answer has no message to link to: its thread, else its channel
    expect(await directory.permalink({ channelId: GENERAL, threadId: root, platformMessageId: 'command:1234.5678.abcdef' })).toBe(`${base}/${GENERAL}/${p(root)}`);
    expect(await directory.permalink({ channelId: GENERAL, threadId: null, platformMessageId: `${GENERAL}:ephemeral-1732270000.000900` })).toBe(`${base}/${GENERAL}`);
    expect(await directory.permalink({ channelId: GENERAL, threadId: null, platformMessageId: `${GENERAL}:1.000001` })).toBe(`${base}/${GENERAL}`);
    expect(await directory.permalink({ channelId: GENERAL, threadId: null, platformMessageId: null })).toBe(`${base}/${GENERAL}`);
  });

  it('reads the message keys the adapter stores', () => {
    expect(slackMessageOf('C0GENERAL1:1732270000.000100', 'C0OTHER001')).toEqual({ channel: 'C0GENERAL1', ts: '1732270000.000100' });
    expect(slackMessageOf('1732270000.000100', 'C0GENERAL1')).toEqual({ channel: 'C0GENERAL1', ts: '1732270000.000100' });
    expect(slackMessageOf('command:123.456.abc', 'C0GENERAL1')).toBeNull();
    expect(slackMessageOf('C0GENERAL1:file-1732270000123', 'C0GENERAL1')).toBeNull();
    expect(slackMessageOf(null, 'C0GENERAL1')).toBeNull();
  });

  it('is registered while the adapter runs', async () => {
    const { world } = await start();
    await stopAdapter(world.rt.engine, world.adapter);
    expect(world.rt.engine.directories.has('slack')).toBe(false);
    await startAdapter(world.rt.engine, world.adapter); // close() stops it again
  });
});

describe('Matrix directory', () => {
  async function start() {
    const mx: FakeMatrix = await startFakeMatrix();
    const bot = mx.registerUser('threadloom', { displayName: 'Threadloom' });
    const alice = mx.registerUser('alice');
    const bob = mx.registerUser('bob');
    const carol = mx.registerUser('carol');
    const dave = mx.registerUser('dave');
    const rt = await startTestRuntime({
      config: (c) => ({ ...c, matrix: { ...c.matrix, homeserverURL: mx.url, accessToken: bot.accessToken, deviceId: bot.deviceId, storeKey: 'a fast-test store key' } }),
    });
    const adapter: MatrixAdapter = createMatrixAdapter(adapterContext(rt), { encryption: false });
    await startAdapter(rt.engine, adapter);
    cleanups.push(async () => {
      await stopAdapter(rt.engine, adapter);
      await rt.shutdown();
      await mx.close();
    });
    const directory = rt.engine.directories.get('matrix');
    expect(directory).toBeDefined();
    return { mx, rt, adapter, directory: directory!, client: adapter.client()!, bot, alice, bob, carol, dave };
  }

  it('shows a room to the people joined to it now, and a DM to its person only', async () => {
    const { mx, directory, client, bot, alice, bob, carol, dave } = await start();
    const room = mx.createRoom(alice.userId, { name: 'ops', invite: [bot.userId], join: [carol.userId, dave.userId] });
    const dm = mx.createRoom(bob.userId, { invite: [bot.userId], isDirect: true });
    const elsewhere = mx.createRoom(alice.userId, { name: 'without the bot' });
    await until(() => mx.membership(room, bot.userId) === 'join' && mx.membership(dm, bot.userId) === 'join');
    mx.invite(room, alice.userId, bob.userId); // invited is not joined
    mx.leave(room, dave.userId);
    await until(() => joinedAs(client, room, dave.userId) === 'leave' && joinedAs(client, room, bob.userId) === 'invite' && joinedAs(client, dm, bot.userId) === 'join');
    const all = [room, dm, elsewhere, '!nowhere:localhost'];
    expect(sorted(await directory.visibleChannels(alice.userId, all))).toEqual([room]);
    expect(sorted(await directory.visibleChannels(carol.userId, all))).toEqual([room]);
    expect(sorted(await directory.visibleChannels(bob.userId, all))).toEqual([dm]);
    expect(await directory.visibleChannels(dave.userId, all)).toEqual(new Set());

    // once the bot has left, what it knows of the room is stale: nobody sees it
    mx.leave(room, bot.userId);
    await until(() => client.getRoom(room)?.getMyMembership() === 'leave');
    expect(await directory.visibleChannels(alice.userId, all)).toEqual(new Set());
  });

  it('links through matrix.to to the event, else its thread, else the room', async () => {
    const { directory, mx } = await start();
    const room = '!abc:localhost';
    const via = `?via=${mx.serverName}`;
    expect(await directory.permalink({ channelId: room, threadId: '$root', platformMessageId: '$event/1' })).toBe(`https://matrix.to/#/!abc%3Alocalhost/%24event%2F1${via}`);
    expect(await directory.permalink({ channelId: room, threadId: '$root', platformMessageId: null })).toBe(`https://matrix.to/#/!abc%3Alocalhost/%24root${via}`);
    expect(await directory.permalink({ channelId: room, threadId: null, platformMessageId: null })).toBe(`https://matrix.to/#/!abc%3Alocalhost${via}`);
  });
});

function joinedAs(client: MatrixClient, roomId: string, userId: string): string | undefined {
  return client.getRoom(roomId)?.getMember(userId)?.membership;
}

describe('console directory', () => {
  it('registers the open directory while the terminal chat runs', async () => {
    const rt = await startTestRuntime();
    cleanups.push(() => rt.shutdown());
    const input = new PassThrough();
    const adapter = createConsoleAdapter({ engine: rt.engine, experienceSlug: 'homelab', input, output: new PassThrough() });
    await startAdapter(rt.engine, adapter);
    expect(rt.engine.directories.get('console')).toBe(OPEN_DIRECTORY);
    await stopAdapter(rt.engine, adapter);
    expect(rt.engine.directories.has('console')).toBe(false);
  });
});
