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
import type { Engine } from '../../core/engine.js';
import { errorMessage } from '../../core/errors.js';
import type { Inbound } from '../../core/inbound.js';
import type { AdapterStatus, ChatAdapter } from '../adapter.js';
import { isAdmin, isAllowed, type Place } from './access.js';
import { argsFromOptions, Autocomplete, commandDefinitions } from './commands.js';
import { actionFromCustomId } from './components.js';
import { DISCORD, messageInbound, placeOf } from './inbound.js';
import { ChannelReply, InteractionReply } from './reply.js';

const READY_TIMEOUT_MS = 30_000;

/**
 * Threadloom on Discord: mentions open threads, bot-owned threads continue without a mention,
 * slash commands for the core command table, buttons under answers.
 */
export function createDiscordAdapter(engine: Engine): ChatAdapter & { client: Client } {
  const { config, log } = engine.deps;
  const settings = config.discord;
  const client = new Client({
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
  let lastError: string | null = null;

  async function boundOrAnywhere(place: { channelId: string; isDirect: boolean; threadId: string | null }): Promise<boolean> {
    if (settings.answerEverywhere || place.isDirect || place.threadId) return true;
    const binding = await engine.deps.db
      .selectFrom('bindings')
      .select('id')
      .where('platform', '=', DISCORD)
      .where('channel_id', '=', place.channelId)
      .executeTakeFirst();
    return binding !== undefined;
  }

  async function onMessage(raw: Message | PartialMessage, kind: 'message' | 'edit'): Promise<void> {
    const message = raw.partial ? await raw.fetch() : raw;
    if (message.author.bot || message.system || !client.user) return;
    const place = placeOf(message);
    const access: Place = { guildId: message.guildId, channelId: place.channelId, userId: message.author.id, member: message.member };
    if (!isAllowed(settings, access) || !(await boundOrAnywhere(place))) return;
    const inbound = await messageInbound(message, client.user.id, kind, isAdmin(settings, access));
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
    const access: Place = {
      guildId: interaction.guildId,
      channelId: isThread ? (channel.parentId ?? channel.id) : channel.id,
      userId: interaction.user.id,
      member: interaction.member,
    };
    if (!isAllowed(settings, access)) {
      await interaction.reply({ content: 'Threadloom is not enabled for you here.', flags: MessageFlags.Ephemeral });
      return;
    }
    const base = {
      platform: DISCORD,
      eventId: `interaction:${interaction.id}`,
      channelId: access.channelId,
      threadId: isThread ? channel.id : null,
      author: { id: interaction.user.id, name: interaction.user.displayName, isBot: false },
      attachments: [],
      replyTo: null,
      mentionsBot: true,
      isDirect: channel.isDMBased(),
      authorIsAdmin: isAdmin(settings, access),
    };
    if (interaction.isChatInputCommand()) {
      const spec = findCommand(interaction.commandName);
      await interaction.deferReply(spec?.private ? { flags: MessageFlags.Ephemeral } : {});
      const args = argsFromOptions(interaction);
      const inbound: Inbound = { ...base, messageId: interaction.id, text: `/${interaction.commandName} ${args}`.trim(), kind: 'command', command: { name: interaction.commandName, args } };
      await engine.handle(inbound, new InteractionReply(interaction, settings.editIntervalMs));
      return;
    }
    const action = actionFromCustomId(interaction.customId);
    if (!action || !channel.isSendable()) return;
    await interaction.deferUpdate();
    const inbound: Inbound = { ...base, messageId: interaction.message.id, text: '', kind: 'action', action: { name: action, targetMessageId: interaction.message.id } };
    await engine.handle(inbound, new ChannelReply(channel, null, settings.editIntervalMs));
  }

  // a bad event is logged and dropped; it never stops the adapter
  const guard = (what: string, work: () => Promise<void>): void => {
    work().catch((err) => log.error(`discord ${what} failed`, { error: errorMessage(err) }));
  };
  client.on(Events.MessageCreate, (message) => guard('message', () => onMessage(message, 'message')));
  client.on(Events.MessageUpdate, (_old, message) => guard('edit', () => onMessage(message, 'edit')));
  client.on(Events.InteractionCreate, (interaction) => guard('interaction', () => onInteraction(interaction)));
  client.on(Events.Error, (err) => {
    lastError = errorMessage(err);
    log.warn('discord client error', { error: lastError });
  });

  async function registerCommands(): Promise<void> {
    const definitions = commandDefinitions();
    if (settings.commandGuilds.length) {
      for (const guildId of settings.commandGuilds) await client.application!.commands.set(definitions, guildId);
    } else {
      await client.application!.commands.set(definitions);
    }
  }

  return {
    platform: DISCORD,
    client,
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
      log.info(`discord: connected as ${client.user?.tag}`);
    },
    async stop() {
      await client.destroy();
    },
    status(): AdapterStatus {
      if (client.isReady()) return { connected: true, detail: `as ${client.user.tag}` };
      return { connected: false, detail: lastError ?? 'not connected' };
    },
  };
}
