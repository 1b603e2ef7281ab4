/**
 * Proves the fake Discord against the real discord.js Client: login, gateway dispatches, REST
 * routes, interactions, rate limits, DMs and a resumed connection.
 */
import {
  ActionRowBuilder, ButtonBuilder, ButtonStyle, ChannelType, Client, DiscordAPIError, Events, GatewayIntentBits, MessageFlags,
  Partials, type ClientEvents, type Interaction, type Message, type TextChannel,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeDiscord, type FakeDiscord, type FakeDiscordOptions } from './discord/index.js';

const INTENTS = [
  GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent,
  GatewayIntentBits.DirectMessages, GatewayIntentBits.GuildMessageReactions, GatewayIntentBits.DirectMessageReactions,
];

let fake: FakeDiscord | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.destroy();
  await fake?.close();
  client = undefined;
  fake = undefined;
});

async function connect(options: FakeDiscordOptions = {}, partials = [Partials.Channel]): Promise<{ fake: FakeDiscord; client: Client; loginMs: number }> {
  fake = await startFakeDiscord(options);
  client = new Client({ intents: INTENTS, partials, rest: { api: fake.apiUrl } });
  const ready = new Promise<void>((resolve) => client!.once(Events.ClientReady, () => resolve()));
  const started = Date.now();
  await client.login('fake-token');
  await ready;
  return { fake, client, loginMs: Date.now() - started };
}

/** The next `event` on `emitter` whose arguments pass `filter`. */
function next<E extends keyof ClientEvents>(c: Client, event: E, filter: (...args: ClientEvents[E]) => boolean = () => true, timeoutMs = 10_000): Promise<ClientEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off(event, listener);
      reject(new Error(`no ${String(event)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: ClientEvents[E]) => {
      if (!filter(...args)) return;
      clearTimeout(timer);
      c.off(event, listener);
      resolve(args);
    };
    c.on(event, listener);
  });
}

const nextMessage = (c: Client, id: string) => next(c, Events.MessageCreate, (m) => m.id === id).then(([m]) => m);
const nextInteraction = (c: Client, id: string) => next(c, Events.InteractionCreate, (i) => i.id === id).then(([i]) => i);

async function userMessage(f: FakeDiscord, c: Client, input: Parameters<FakeDiscord['userSays']>[0]): Promise<Message> {
  const pending = next(c, Events.MessageCreate, (m) => m.content.endsWith(input.content));
  f.userSays(input);
  return (await pending)[0];
}

describe('fake Discord with the real discord.js client', () => {
  it('logs in, becomes ready without the 15 s guild wait, and caches guilds and channels from GUILD_CREATE', async () => {
    const { fake, client, loginMs } = await connect();
    expect(loginMs).toBeLessThan(10_000); // not discord.js's 15 s wait for guilds, however loaded the machine
    expect(client.user!.id).toBe(fake.botUserId);
    expect(client.application!.id).toBe(fake.applicationId);
    const guild = client.guilds.cache.get(fake.guildId)!;
    expect(guild.available).toBe(true);
    expect(guild.members.me!.id).toBe(fake.botUserId);
    const channel = client.channels.cache.get(fake.channelId);
    expect(channel?.type).toBe(ChannelType.GuildText);
    expect((channel as TextChannel).name).toBe('general');
    expect(fake.identifies[0].intents).toBe(client.options.intents.bitfield);
    expect(fake.rest.map((r) => r.route)).toContain('GET /gateway/bot');

    await expect(client.rest.get(`/guilds/${fake.guildId}/bans`)).rejects.toBeInstanceOf(DiscordAPIError);
    expect(fake.unknownRoutes.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /guilds/${fake.guildId}/bans`]);
  });

  it('dispatches guild messages with mentions, member and edits', async () => {
    const { fake, client } = await connect();
    const mention = await userMessage(fake, client, { content: 'what is zfs?', mentionsBot: true });
    expect(mention.mentions.has(client.user!)).toBe(true);
    expect(mention.content).toBe(`<@${fake.botUserId}> what is zfs?`);
    expect(mention.guildId).toBe(fake.guildId);
    expect(mention.member?.id).toBe(fake.defaultUserId);
    expect(mention.author.bot).toBe(false);

    const chatter = await userMessage(fake, client, { content: 'lunch anyone?' });
    expect(chatter.mentions.has(client.user!)).toBe(false);

    const updated = next(client, Events.MessageUpdate, (_old, m) => m.id === chatter.id);
    fake.userEdits(chatter.id, 'lunch at noon?');
    const [, after] = await updated;
    expect(after.content).toBe('lunch at noon?');
  });

  it('records channel.send (JSON and multipart), replies and edits in messagesIn', async () => {
    const { fake, client } = await connect();
    const question = await userMessage(fake, client, { content: 'hi', mentionsBot: true });
    const channel = client.channels.cache.get(fake.channelId) as TextChannel;

    const sent = await channel.send({ content: 'draft', files: [{ attachment: Buffer.from('#!/bin/sh\necho hi\n'), name: 'run.sh' }] });
    const edited = await sent.edit('final answer');
    const reply = await question.reply('a reply');
    await sent.react('👍');

    expect(edited.content).toBe('final answer');
    const [first, second] = fake.messagesIn(fake.channelId);
    expect(first).toMatchObject({ id: sent.id, content: 'final answer', editCount: 1, via: 'channel', reactions: ['👍'] });
    expect(first!.attachments.map((a) => [a.filename, a.text])).toEqual([['run.sh', '#!/bin/sh\necho hi\n']]);
    expect(await (await fetch(first!.attachments[0]!.url)).text()).toBe('#!/bin/sh\necho hi\n');
    expect(second).toMatchObject({ id: reply.id, content: 'a reply', replyTo: question.id, editCount: 0 });
    const post = fake.rest.find((r) => r.method === 'POST' && r.files.length)!;
    expect(post.files[0]).toMatchObject({ name: 'run.sh' });

    const tooLong = channel.send('x'.repeat(2001));
    await expect(tooLong).rejects.toMatchObject({ code: 50035, status: 400 });
    await expect(channel.messages.edit(question.id, 'not mine')).rejects.toMatchObject({ code: 50005 });
  });

  it('starts a thread from a message, receives its messages, renames it and types in it', async () => {
    const { fake, client } = await connect();
    const question = await userMessage(fake, client, { content: 'why is my pool degraded?', mentionsBot: true });
    const thread = await question.startThread({ name: 'why is my pool degraded?', autoArchiveDuration: 1440 });

    expect(thread.id).toBe(question.id);
    expect(fake.threads).toEqual([expect.objectContaining({ id: thread.id, parentId: fake.channelId, starterMessageId: question.id, type: 11 })]);
    expect(client.channels.cache.get(thread.id)?.isThread()).toBe(true);

    const inThread = await userMessage(fake, client, { channelId: thread.id, content: 'one disk is FAULTED' });
    expect(inThread.channel.isThread()).toBe(true);
    expect(inThread.channelId).toBe(thread.id);

    await thread.sendTyping();
    await thread.send('look at zpool status');
    await thread.setName('degraded pool');
    expect(fake.messagesIn(thread.id).map((m) => m.content)).toEqual(['look at zpool status']);
    expect(fake.threads[0]!.names).toEqual(['why is my pool degraded?', 'degraded pool']);
    expect(fake.rest.find((r) => r.route === 'POST /channels/:channelId/typing')).toMatchObject({ path: `/channels/${thread.id}/typing`, status: 204 });
  });

  it('registers commands and answers slash commands with reply, defer + edit and a follow-up', async () => {
    const { fake, client } = await connect();
    await client.application!.commands.set([
      { name: 'ask', description: 'Ask something', options: [{ type: 3, name: 'question', description: 'the question', required: true, autocomplete: true }] },
      { name: 'help', description: 'Show help' },
    ]);
    await client.application!.commands.set([{ name: 'local', description: 'Guild only' }], fake.guildId);
    expect(fake.registeredCommands.map((c) => [c.name, c.guildId])).toEqual([['ask', null], ['help', null], ['local', fake.guildId]]);

    const help = fake.interaction({ type: 'command', name: 'help' });
    const first = await nextInteraction(client, help.id);
    expect(first.isChatInputCommand() && first.commandName).toBe('help');
    if (!first.isChatInputCommand()) throw new Error('unreachable');
    await first.reply({ content: 'Use /ask', flags: MessageFlags.Ephemeral });

    const ask = fake.interaction({ type: 'command', name: 'ask', options: { question: 'why?' } });
    const second = await nextInteraction(client, ask.id);
    if (!second.isChatInputCommand()) throw new Error('not a chat input command');
    expect(second.options.getString('question')).toBe('why?');
    await second.deferReply();
    await second.editReply('because.');
    await second.followUp('anything else?');

    expect(fake.interactionResponses.map((r) => [r.interactionId, r.kind, r.type])).toEqual([
      [help.id, 'callback', 4], [ask.id, 'callback', 5], [ask.id, 'edit', null], [ask.id, 'followup', null],
    ]);
    expect(fake.interactionResponses[0]).toMatchObject({ data: { flags: MessageFlags.Ephemeral }, flags: MessageFlags.Ephemeral });
    expect(fake.interactionResponses[2]).toMatchObject({ data: { content: 'because.' }, flags: 0 });
    expect(fake.messagesIn(fake.channelId).map((m) => [m.content, m.via, m.ephemeral, m.editCount])).toEqual([
      ['Use /ask', 'interaction', true, 0],
      ['because.', 'interaction', false, 1],
      ['anything else?', 'followup', false, 0],
    ]);
    await expect(second.reply('again')).rejects.toThrow(); // discord.js refuses locally
  });

  it('delivers a button interaction on a bot message that update() edits, and autocomplete respond()', async () => {
    const { fake, client } = await connect();
    const channel = client.channels.cache.get(fake.channelId) as TextChannel;
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setCustomId('tl:regen').setLabel('Regenerate').setStyle(ButtonStyle.Secondary));
    const answer = await channel.send({ content: 'first try', components: [row] });

    const click = fake.interaction({ type: 'button', messageId: answer.id, customId: 'tl:regen' });
    const button = await nextInteraction(client, click.id);
    if (!button.isButton()) throw new Error('not a button');
    expect(button.customId).toBe('tl:regen');
    expect(button.message.id).toBe(answer.id);
    await button.update({ content: 'second try', components: [] });
    expect(fake.messagesIn(fake.channelId)[0]).toMatchObject({ content: 'second try', components: [], editCount: 1 });
    expect(fake.interactionResponses.at(-1)).toMatchObject({ type: 7, interactionId: click.id });

    const typing = fake.interaction({ type: 'autocomplete', name: 'ask', options: { question: 'zf' }, focused: 'question' });
    const auto: Interaction = await nextInteraction(client, typing.id);
    if (!auto.isAutocomplete()) throw new Error('not autocomplete');
    expect(auto.options.getFocused()).toBe('zf');
    await auto.respond([{ name: 'zfs', value: 'zfs' }]);
    expect(fake.interactionResponses.at(-1)).toMatchObject({ type: 8, data: { choices: [{ name: 'zfs', value: 'zfs' }] } });
  });

  it('answers more than 5 edits in 5 s with 429s that discord.js waits out and retries', async () => {
    const { fake, client } = await connect();
    const channel = client.channels.cache.get(fake.channelId) as TextChannel;
    const message = await channel.send('0');
    const started = Date.now();
    await Promise.all([1, 2, 3, 4, 5, 6].map((n) => message.edit(String(n))));
    expect(Date.now() - started).toBeGreaterThan(3000); // the 6th waited for the window
    expect(fake.rateLimited).toBeGreaterThanOrEqual(1);
    const limited = fake.rest.find((r) => r.status === 429)!;
    expect(limited.route).toBe('PATCH /channels/:channelId/messages/:messageId');
    expect(fake.messagesIn(fake.channelId)[0]).toMatchObject({ content: '6', editCount: 6 });
    expect(fake.editsPerWindow(fake.channelId)).toBeGreaterThanOrEqual(6);
  }, 12_000);

  it('advertises the edit limit when asked, so discord.js queues edits without any 429', async () => {
    const { fake, client } = await connect({ editLimit: { limit: 2, windowMs: 600, advertise: true } });
    const channel = client.channels.cache.get(fake.channelId) as TextChannel;
    const message = await channel.send('0');
    await Promise.all([1, 2, 3, 4].map((n) => message.edit(String(n))));
    expect(fake.rateLimited).toBe(0);
    expect(fake.messagesIn(fake.channelId)[0]).toMatchObject({ content: '4', editCount: 4 });
  });

  it('delivers DMs to a client with Partials.Channel and takes its answer', async () => {
    const { fake, client } = await connect();
    const pending = next(client, Events.MessageCreate, (m) => m.content === 'hello in private');
    fake.dmSays({ content: 'hello in private' });
    const [dm] = await pending;
    expect(dm.guildId).toBeNull();
    expect(dm.channel.type).toBe(ChannelType.DM);
    await dm.channel.send('hi back');
    expect(fake.dmMessages().map((m) => m.content)).toEqual(['hi back']);
    expect(fake.dmChannelId()).toBe(dm.channelId);
  });

  it('drops DMs for a client without Partials.Channel, as Discord does', async () => {
    const { fake, client } = await connect({}, []);
    const seen: string[] = [];
    client.on(Events.MessageCreate, (m) => void seen.push(m.content));
    fake.dmSays({ content: 'lost' });
    const guildMessage = await userMessage(fake, client, { content: 'still here' });
    expect(guildMessage.content).toBe('still here');
    expect(seen).toEqual(['still here']);
  });

  it('resumes after dropConnection, replays missed dispatches and can redeliver seen ones', async () => {
    const { fake, client } = await connect();
    const resumed = next(client, Events.ShardResume);
    await fake.dropConnection();
    const missed = fake.userSays({ content: 'sent while offline' });
    const received = nextMessage(client, missed);
    expect(await fake.nextSession()).toBe('resumed');
    expect((await received).content).toBe('sent while offline');
    await resumed;
    expect(fake.identifies).toHaveLength(1);
    expect(fake.connections).toBe(2);

    const raw: string[] = [];
    client.on(Events.Raw, (packet: { t?: string; d?: { id?: string } }) => {
      if (packet.t === 'MESSAGE_CREATE' && packet.d?.id) raw.push(packet.d.id);
    });
    const once = await userMessage(fake, client, { content: 'said once' });
    await fake.dropConnection({ code: 1006, redeliver: 1 });
    expect(await fake.nextSession()).toBe('resumed');
    const repeat = fake.dispatched.find((d) => d.t === 'MESSAGE_CREATE' && (d.d as { id: string }).id === once.id)!;
    fake.dispatch(repeat.t, repeat.d);
    await userMessage(fake, client, { content: 'after the replays' });
    expect(raw.filter((id) => id === once.id)).toHaveLength(3); // original, RESUME replay, manual re-dispatch
  });
});
