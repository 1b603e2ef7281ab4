/** Things people do on the fake server, dispatched to the bot through the gateway. */
import { emit, emitMessage, INTENT, isThread, type Core } from './core.js';
import { snowflake, token } from './ids.js';
import { channelPayload, memberPayload, messagePayload, userPayload } from './payloads.js';
import type { AttachmentState, ChannelState } from './state.js';
import type {
  DmSaysInput, FakeAttachmentInput, FakeCommandOption, FakeInteractionHandle, FakeInteractionInput, FakeOptionValue, UserSaysInput,
} from './types.js';

function attachments(inputs: FakeAttachmentInput[] | undefined): AttachmentState[] {
  return (inputs ?? []).map((a) => ({
    id: snowflake(),
    filename: a.filename,
    contentType: a.contentType ?? 'application/octet-stream',
    data: Buffer.isBuffer(a.content) ? a.content : Buffer.from(a.content ?? '', 'utf8'),
    ...(a.width !== undefined ? { width: a.width, height: a.height ?? a.width } : {}),
  }));
}

export function userSays(core: Core, input: UserSaysInput): string {
  const { state } = core;
  const channel = state.requireChannel(input.channelId ?? state.defaultChannelId());
  const authorId = input.authorId ?? (input.bot ? state.otherBotId() : state.defaultUserId);
  if (input.bot) state.ensureUser(authorId).bot = true;
  if (channel.guildId) state.ensureMember(state.requireGuild(channel.guildId), authorId);
  else state.ensureUser(authorId);
  const mention = `<@${state.bot.id}>`;
  const content = input.mentionsBot && !input.content.includes(mention) ? `${mention} ${input.content}` : input.content;
  if (input.messageReference) state.requireMessage(input.messageReference);
  const message = state.createMessage({
    channelId: channel.id, authorId, content, attachments: attachments(input.attachments), replyTo: input.messageReference ?? null,
  });
  if (isThread(channel)) channel.archived = false;
  emitMessage(core, 'MESSAGE_CREATE', message);
  return message.id;
}

export function userEdits(core: Core, messageId: string, content: string): void {
  const message = core.state.requireMessage(messageId);
  message.content = content;
  message.editedAt = new Date().toISOString();
  emitMessage(core, 'MESSAGE_UPDATE', message);
}

export function dmSays(core: Core, input: DmSaysInput): string {
  const { channel, created } = core.state.dmChannel(input.authorId ?? core.state.defaultUserId);
  if (created && input.announceChannel) emit(core, 'CHANNEL_CREATE', channelPayload(core.state, channel));
  const message = core.state.createMessage({
    channelId: channel.id, authorId: channel.recipientId!, content: input.content, attachments: attachments(input.attachments),
  });
  emitMessage(core, 'MESSAGE_CREATE', message);
  return message.id;
}

export function userReacts(core: Core, input: { messageId: string; emoji: string; userId?: string }): void {
  const { state } = core;
  const message = state.requireMessage(input.messageId);
  const channel = state.requireChannel(message.channelId);
  const userId = input.userId ?? state.defaultUserId;
  const guild = channel.guildId ? state.requireGuild(channel.guildId) : undefined;
  const [name, id] = input.emoji.split(':');
  emit(core, 'MESSAGE_REACTION_ADD', {
    user_id: userId, channel_id: channel.id, message_id: message.id, emoji: { id: id ?? null, name }, burst: false, type: 0,
    message_author_id: message.authorId, ...(guild ? { guild_id: guild.id, member: memberPayload(state, guild, userId) } : {}),
  }, guild ? INTENT.GuildMessageReactions : INTENT.DirectMessageReactions);
}

function optionType(value: FakeOptionValue): number {
  if (typeof value === 'boolean') return 5;
  if (typeof value === 'number') return Number.isInteger(value) ? 4 : 10;
  return 3;
}

/** Options as Discord sends them; types come from the registered command when known. */
function commandOptions(input: Record<string, FakeOptionValue> | FakeCommandOption[] | undefined, declared: any[], focused?: string): any[] {
  const list: FakeCommandOption[] = Array.isArray(input) ? input : Object.entries(input ?? {}).map(([name, value]) => ({ name, value }));
  return list.map((o) => {
    const spec = declared.find((d) => d.name === o.name);
    const type = o.type ?? spec?.type ?? (o.value === undefined ? 1 : optionType(o.value));
    return {
      name: o.name, type,
      ...(o.value !== undefined ? { value: o.value } : {}),
      ...(o.focused || o.name === focused ? { focused: true } : {}),
      ...(o.options ? { options: commandOptions(o.options, spec?.options ?? [], focused) } : {}),
    };
  });
}

export function interaction(core: Core, input: FakeInteractionInput): FakeInteractionHandle {
  const { state } = core;
  const userId = input.userId ?? state.defaultUserId;
  let channel: ChannelState;
  let data: Record<string, unknown>;
  let messageId: string | null = null;
  let type: number;
  let name: string | null = null;
  if (input.type === 'command' || input.type === 'autocomplete') {
    channel = input.dm ? state.dmChannel(userId).channel : state.requireChannel(input.channelId ?? state.defaultChannelId());
    type = input.type === 'command' ? 2 : 4;
    name = input.name;
    const command = [...(channel.guildId ? (state.guildCommands.get(channel.guildId) ?? []) : []), ...state.globalCommands]
      .find((c) => c.name === input.name && c.type === 1);
    const focused = input.type === 'autocomplete' ? input.focused : undefined;
    let options = commandOptions(input.options, command?.options ?? [], focused);
    const resolved: Record<string, unknown> = {};
    for (const [optionName, file] of Object.entries(input.type === 'command' ? (input.attachments ?? {}) : {})) {
      const attachmentId = snowflake();
      options.push({ name: optionName, type: 11, value: attachmentId });
      resolved[attachmentId] = { id: attachmentId, filename: file.filename, url: file.url, proxy_url: file.url, size: file.size, content_type: file.contentType };
    }
    if (input.subcommand) options = [{ name: input.subcommand, type: 1, options }];
    data = {
      id: command?.id ?? snowflake(), name: input.name, type: 1, options, ...(command?.guildId ? { guild_id: command.guildId } : {}),
      ...(Object.keys(resolved).length ? { resolved: { attachments: resolved } } : {}),
    };
  } else {
    const message = state.requireMessage(input.messageId);
    channel = state.requireChannel(message.channelId);
    messageId = message.id;
    type = 3;
    data = { custom_id: input.customId, component_type: input.type === 'button' ? 2 : (input.componentType ?? 2), ...(input.values ? { values: input.values } : {}) };
  }
  const guild = channel.guildId ? state.requireGuild(channel.guildId) : undefined;
  const id = snowflake();
  const tok = token();
  state.interactions.set(tok, {
    id, token: tok, type, channelId: channel.id, guildId: guild?.id ?? null, userId, name,
    messageId, createdAt: Date.now(), callbackType: null, originalMessageId: null,
  });
  // as on Discord, both are the permissions in this channel, overwrites applied
  const appPermissions = guild ? state.channelPermissionsOf(channel, state.bot.id) : 0n;
  emit(core, 'INTERACTION_CREATE', {
    id, application_id: state.applicationId, type, data, token: tok, version: 1,
    channel: { ...channelPayload(state, channel), ...(guild ? { permissions: appPermissions.toString() } : {}) },
    channel_id: channel.id,
    ...(guild
      ? {
          guild_id: guild.id,
          guild: { id: guild.id, locale: 'en-US', features: [] },
          member: { ...memberPayload(state, guild, userId), permissions: state.channelPermissionsOf(channel, userId).toString() },
        }
      : { user: userPayload(state.ensureUser(userId)) }),
    ...(messageId ? { message: messagePayload(state, state.requireMessage(messageId)) } : {}),
    app_permissions: (guild ? appPermissions : 0n).toString(),
    locale: 'en-US',
    guild_locale: guild ? 'en-US' : undefined,
    entitlements: [],
    authorizing_integration_owners: guild ? { '0': guild.id } : { '1': userId },
    context: guild ? 0 : 1,
    attachment_size_limit: 10_485_760,
  });
  return { id, token: tok };
}
