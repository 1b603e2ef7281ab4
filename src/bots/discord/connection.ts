import {
  Client,
  Events,
  GatewayIntentBits,
  MessageFlags,
  Partials,
  type Interaction,
  type Message,
  type PartialMessage,
} from 'discord.js';
import { findCommand } from '../../core/commands/table.js';
import { errorMessage } from '../../core/errors.js';
import type { Inbound } from '../../core/inbound.js';
import type { PlatformDirectory } from '../../core/search/directory.js';
import type { AdapterContext, AdapterStatus } from '../adapter.js';
import { AdapterHealth } from '../health.js';
import { isAdministrator, placeFacts } from './access.js';
import { argsFromOptions, Autocomplete, commandDefinitions, optionAttachments } from './commands.js';
import { actionFromCustomId } from './components.js';
import { createDiscordDirectory } from './directory.js';
import { DISCORD, attachmentsFrom, attachmentsOf, messageInbound } from './inbound.js';
import { ButtonReply, ChannelReply, InteractionReply } from './reply.js';

const READY_TIMEOUT_MS = 30_000;
/** catch-up looks at conversations active in the last two days, at most 200, 50 messages each */
const CATCH_UP_LOOKBACK_MS = 2 * 86_400_000;
const CATCH_UP_MAX_PLACES = 200;
const CATCH_UP_MAX_MESSAGES = 50;

/** The shards one client connects: `ids` of `count` ('auto': what Discord recommends, all of them). */
export type ShardSet = { ids: number[]; count: number } | 'auto';

/** The shard of a guild among `count` shards, by Discord's formula; DMs are shard 0's. */
export function shardOf(guildId: string | null, count: number): number {
  return guildId ? Number((BigInt(guildId) >> 22n) % BigInt(count)) : 0;
}

export interface DiscordConnection {
  readonly client: Client;
  readonly shards: ShardSet;
  readonly directory: PlatformDirectory;
  /** how many missed messages the catch-up after the last start went through */
  caughtUp(): Promise<number>;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): AdapterStatus;
}

/**
 * One discord.js client over some shards: mentions open threads, bot-owned threads continue
 * without a mention, slash commands for the core command table, buttons under answers. What
 * happens once for the bot (global commands, DMs) is done by the client that has shard 0; a
 * guild's commands and its channels' catch-up by the client that has the guild's shard.
 */
export function connectDiscord({ engine, config, log }: AdapterContext, shards: ShardSet): DiscordConnection {
  const settings = config.discord;
  const client = new Client({
    ...(shards === 'auto' ? { shards: 'auto' as const } : { shards: shards.ids, shardCount: shards.count }),
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildMessages,
      GatewayIntentBits.MessageContent,
      GatewayIntentBits.DirectMessages,
      GatewayIntentBits.GuildMessageReactions,
      GatewayIntentBits.DirectMessageReactions,
    ],
    partials: [Partials.Channel, Partials.Message],
    allowedMentions: { parse: [] },
    ...(settings.apiBaseURL ? { rest: { api: settings.apiBaseURL } } : {}),
  });
  const autocomplete = new Autocomplete(engine);
  const health = new AdapterHealth(DISCORD, log);
  let caughtUp: Promise<number> = Promise.resolve(0);

  async function onMessage(raw: Message | PartialMessage, kind: 'message' | 'edit'): Promise<void> {
    const message = raw.partial ? await raw.fetch() : raw;
    if (message.author.bot || message.system || !client.user) return;
    const inbound = messageInbound(message, client.user.id, kind);
    // attachments are fetched only for what will be answered
    if ((await engine.admit(inbound)) !== 'admitted') return;
    inbound.attachments = await attachmentsOf(message);
    const channel = message.channel;
    if (!channel.isSendable()) return;
    await engine.handle(inbound, new ChannelReply(channel, message, settings.editIntervalMs));
  }

  async function onInteraction(interaction: Interaction): Promise<void> {
    if (interaction.isAutocomplete()) return autocomplete.respond(interaction);
    if (!interaction.isChatInputCommand() && !interaction.isButton()) return;
    const channel = interaction.channel;
    if (!channel) return;
    const isThread = channel.isThread();
    const base = {
      platform: DISCORD,
      eventId: `interaction:${interaction.id}`,
      channelId: isThread ? (channel.parentId ?? channel.id) : channel.id,
      threadId: isThread ? channel.id : null,
      author: { id: interaction.user.id, name: interaction.user.displayName, isBot: false },
      attachments: [],
      replyTo: null,
      mentionsBot: true,
      isDirect: channel.isDMBased(),
      authorIsAdmin: isAdministrator(interaction.member),
      place: placeFacts(interaction.guildId, interaction.member),
    };
    if (interaction.isChatInputCommand()) {
      const spec = findCommand(interaction.commandName);
      const args = argsFromOptions(interaction);
      const inbound: Inbound = { ...base, messageId: interaction.id, text: `/${interaction.commandName} ${args}`.trim(), kind: 'command', command: { name: interaction.commandName, args } };
      if (await refused(interaction, inbound)) return;
      const reply = new InteractionReply(interaction, settings.editIntervalMs, spec?.private ?? false);
      // a file given to the command (knowledge add): fetched after the reply, which defers the interaction in time
      const files = optionAttachments(interaction);
      if (files.length) inbound.attachments = await attachmentsFrom(files);
      await engine.handle(inbound, reply);
      await reply.done();
      return;
    }
    const action = actionFromCustomId(interaction.customId);
    const inbound: Inbound = { ...base, messageId: interaction.message.id, text: '', kind: 'action', action: { name: action ?? 'regen', targetMessageId: interaction.message.id } };
    if (await refused(interaction, inbound)) return;
    if (!action || !channel.isSendable()) return;
    await interaction.deferUpdate();
    await engine.handle(inbound, new ButtonReply(interaction, channel, settings.editIntervalMs));
  }

  /** Discord wants an answer to every interaction: a person outside the allowlists is told so, privately. */
  async function refused(interaction: Interaction & { reply: (o: { content: string; flags: number }) => Promise<unknown> }, inbound: Inbound): Promise<boolean> {
    if ((await engine.admit(inbound)) !== 'not-allowed') return false;
    await interaction.reply({ content: 'Threadloom is not enabled for you here.', flags: MessageFlags.Ephemeral });
    return true;
  }

  client.on(Events.MessageCreate, (message) => void health.guard('message', () => onMessage(message, 'message')));
  client.on(Events.MessageUpdate, (_old, message) => void health.guard('edit', () => onMessage(message, 'edit')));
  client.on(Events.InteractionCreate, (interaction) => void health.guard('interaction', () => onInteraction(interaction)));
  client.on(Events.Error, (err) => health.failed(err, 'client error'));

  /**
   * Messages addressed to the bot while it was away: the recent history of every conversation
   * active lately goes through the normal path, where exactly-once drops what was answered.
   */
  /** Whether this client hears `guildId`'s events (null: DMs). */
  const hears = (guildId: string | null): boolean => shards === 'auto' || shards.ids.includes(shardOf(guildId, shards.count));

  async function catchUp(): Promise<number> {
    if (settings.catchUpMinutes === 0) return 0;
    const since = Date.now() - settings.catchUpMinutes * 60_000;
    const places = await engine.activePlaces(DISCORD, new Date(Date.now() - CATCH_UP_LOOKBACK_MS), CATCH_UP_MAX_PLACES);
    let seen = 0;
    for (const place of places) {
      try {
        // a channel of a guild on another shard comes back null (its guild is not in this client's cache)
        const channel = await client.channels.fetch(place.threadId ?? place.channelId);
        if (!channel?.isTextBased() || !hears(channel.isDMBased() ? null : channel.guildId)) continue;
        const recent = await channel.messages.fetch({ limit: CATCH_UP_MAX_MESSAGES });
        const missed = [...recent.values()].filter((m) => m.createdTimestamp >= since && !m.author.bot).sort((a, b) => a.createdTimestamp - b.createdTimestamp);
        for (const message of missed) {
          seen++;
          await onMessage(message, 'message');
        }
      } catch (err) {
        log.warn('discord catch-up skipped a channel', { channel: place.threadId ?? place.channelId, error: errorMessage(err) });
      }
    }
    return seen;
  }

  async function registerCommands(): Promise<void> {
    const definitions = commandDefinitions();
    if (settings.commandGuilds.length) {
      for (const guildId of settings.commandGuilds) if (hears(guildId)) await client.application!.commands.set(definitions, guildId);
    } else if (hears(null)) {
      await client.application!.commands.set(definitions);
    }
  }

  return {
    client,
    shards,
    directory: createDiscordDirectory(client),
    caughtUp: () => caughtUp,
    async start() {
      const ready = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`Discord did not become ready within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
        client.once(Events.ClientReady, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      await client.login(settings.token);
      await ready;
      await registerCommands();
      log.info(`discord: connected as ${client.user?.tag}${shards === 'auto' || shards.count > 1 ? ` (${describeShards(client)})` : ''}`);
      caughtUp = catchUp().catch((err) => {
        log.warn('discord catch-up failed', { error: errorMessage(err) });
        return 0;
      });
    },
    async stop() {
      await caughtUp;
      await client.destroy();
    },
    status(): AdapterStatus {
      return health.status(`as ${client.user?.tag}`, client.isReady());
    },
  };
}

/** "shards 0, 1 of 2" */
export function shardsLine(ids: readonly number[], count: number | null | undefined): string {
  return `shard${ids.length === 1 ? '' : 's'} ${ids.join(', ')} of ${count ?? '?'}`;
}

/** The shards a client connects (after login, when discord.js knows them). */
export function describeShards(client: Client): string {
  const { shards, shardCount } = client.options;
  return shardsLine(Array.isArray(shards) ? shards : [], shardCount);
}
