/** The fake's world: users, guilds, channels, threads, messages, interactions, commands. */
import { PermissionFlagsBits as P } from 'discord.js';
import { snowflake, snowflakeTime } from './ids.js';
import type { ChannelState, GuildState, MemberState, MessageState, InteractionState, OverwriteState } from './model.js';
import type { FakeChannelInput, FakeDiscordOptions, FakeGuild, FakeOverwriteInput, FakeUser, RegisteredCommand } from './types.js';

export type { AttachmentState, ChannelState, GuildState, InteractionState, MemberState, MessageState, OverwriteState, RoleState } from './model.js';

export function overwriteOf(input: FakeOverwriteInput): OverwriteState {
  return { id: input.id, type: input.type === 'member' ? 1 : 0, allow: BigInt(input.allow ?? 0), deny: BigInt(input.deny ?? 0) };
}

export const EVERYONE_PERMISSIONS =
  P.ViewChannel | P.SendMessages | P.SendMessagesInThreads | P.CreatePublicThreads | P.ReadMessageHistory |
  P.AddReactions | P.AttachFiles | P.EmbedLinks | P.UseApplicationCommands;
export const DEFAULT_BOT_PERMISSIONS = EVERYONE_PERMISSIONS | P.ManageThreads | P.ManageMessages;
const ALL_PERMISSIONS = Object.values(P).reduce((a, b) => a | b, 0n);

export class FakeState {
  readonly users = new Map<string, FakeUser>();
  readonly guilds = new Map<string, GuildState>();
  readonly channels = new Map<string, ChannelState>();
  readonly messages = new Map<string, MessageState>();
  /** by token */
  readonly interactions = new Map<string, InteractionState>();
  readonly dmChannels = new Map<string, string>();
  globalCommands: RegisteredCommand[] = [];
  readonly guildCommands = new Map<string, RegisteredCommand[]>();
  readonly bot: FakeUser;
  readonly applicationId: string;
  readonly botPermissions: bigint;
  readonly defaultUserId: string;
  baseUrl = '';

  constructor(options: FakeDiscordOptions) {
    const botId = options.botUserId ?? snowflake();
    this.bot = { id: botId, username: options.botUsername ?? 'Threadloom', globalName: null, bot: true };
    this.users.set(botId, this.bot);
    this.applicationId = options.applicationId ?? botId;
    this.botPermissions = options.botPermissions ?? DEFAULT_BOT_PERMISSIONS;
    this.defaultUserId = this.ensureUser(snowflake(), 'alice').id;
    const guilds = options.guilds ?? [{ name: 'Test Guild', channels: [{ name: 'general' }] }];
    for (const guild of guilds) this.addGuild(guild);
  }

  private otherBot: string | null = null;
  /** A second bot user (for "ignore other bots" tests). */
  otherBotId(): string {
    this.otherBot ??= this.ensureUser(snowflake(), 'helperbot').id;
    this.users.get(this.otherBot)!.bot = true;
    return this.otherBot;
  }

  ensureUser(id: string, username?: string): FakeUser {
    let user = this.users.get(id);
    if (!user) {
      user = { id, username: username ?? `user${id.slice(-4)}`, globalName: null };
      this.users.set(id, user);
    } else if (username) user.username = username;
    return user;
  }

  addGuild(input: FakeGuild): GuildState {
    const id = input.id ?? snowflake();
    const guild: GuildState = {
      id,
      name: input.name ?? 'Test Guild',
      ownerId: input.ownerId ?? this.defaultUserId,
      roles: [
        { id, name: '@everyone', permissions: EVERYONE_PERMISSIONS, position: 0, botId: null },
        { id: snowflake(), name: this.bot.username, permissions: this.botPermissions, position: 1, botId: this.bot.id },
      ],
      members: new Map(),
      joinedAt: new Date().toISOString(),
    };
    for (const role of input.roles ?? []) {
      guild.roles.push({ id: role.id ?? snowflake(), name: role.name, permissions: BigInt(role.permissions ?? 0), position: guild.roles.length, botId: null });
    }
    this.guilds.set(id, guild);
    this.ensureMember(guild, this.bot.id).roles = [guild.roles[1]!.id];
    this.ensureMember(guild, guild.ownerId);
    if (!input.members) this.ensureMember(guild, this.defaultUserId);
    for (const m of input.members ?? []) {
      this.ensureUser(m.userId, m.username);
      const member = this.ensureMember(guild, m.userId);
      member.roles = m.roles ?? [];
      member.nick = m.nick ?? null;
    }
    for (const channel of input.channels ?? []) this.addChannel(id, channel);
    return guild;
  }

  ensureMember(guild: GuildState, userId: string): MemberState {
    this.ensureUser(userId);
    let member = guild.members.get(userId);
    if (!member) {
      member = { userId, roles: [], nick: null, joinedAt: new Date().toISOString() };
      guild.members.set(userId, member);
    }
    return member;
  }

  addChannel(guildId: string, input: FakeChannelInput, createdByBot = false): ChannelState {
    const guild = this.requireGuild(guildId);
    const type = input.type ?? 0;
    const isThread = type === 10 || type === 11 || type === 12;
    if (isThread && !input.parentId) throw new Error('fake discord: a thread needs parentId');
    const id = input.id ?? snowflake();
    const channel: ChannelState = {
      id,
      type,
      name: input.name ?? (isThread ? 'thread' : 'channel'),
      guildId: guild.id,
      parentId: input.parentId ?? null,
      topic: input.topic ?? null,
      position: [...this.channels.values()].filter((c) => c.guildId === guildId).length,
      ownerId: isThread ? (input.ownerId ?? this.bot.id) : null,
      archived: false,
      locked: false,
      autoArchiveDuration: 1440,
      recipientId: null,
      messageCount: 0,
      lastMessageId: null,
      starterMessageId: null,
      createdByBot,
      names: [input.name ?? (isThread ? 'thread' : 'channel')],
      overwrites: isThread ? [] : (input.permissionOverwrites ?? []).map(overwriteOf),
    };
    this.channels.set(id, channel);
    return channel;
  }

  /** The DM channel between the bot and a user, created on first use. */
  dmChannel(userId: string): { channel: ChannelState; created: boolean } {
    this.ensureUser(userId);
    const existing = this.dmChannels.get(userId);
    if (existing) return { channel: this.channels.get(existing)!, created: false };
    const channel: ChannelState = {
      id: snowflake(), type: 1, name: null, guildId: null, parentId: null, topic: null, position: 0, ownerId: null,
      archived: false, locked: false, autoArchiveDuration: 0, recipientId: userId, messageCount: 0, lastMessageId: null,
      starterMessageId: null, createdByBot: false, names: [], overwrites: [],
    };
    this.channels.set(channel.id, channel);
    this.dmChannels.set(userId, channel.id);
    return { channel, created: true };
  }

  requireGuild(id: string): GuildState {
    const guild = this.guilds.get(id);
    if (!guild) throw new Error(`fake discord: unknown guild ${id}`);
    return guild;
  }

  requireChannel(id: string): ChannelState {
    const channel = this.channels.get(id);
    if (!channel) throw new Error(`fake discord: unknown channel ${id}`);
    return channel;
  }

  requireMessage(id: string): MessageState {
    const message = this.messages.get(id);
    if (!message || message.deleted) throw new Error(`fake discord: unknown message ${id}`);
    return message;
  }

  /** First text channel of the first guild. */
  defaultChannelId(): string {
    const channel = [...this.channels.values()].find((c) => c.type === 0);
    if (!channel) throw new Error('fake discord: no text channel; pass channelId');
    return channel.id;
  }

  createMessage(fields: Partial<MessageState> & { channelId: string; authorId: string }): MessageState {
    const message: MessageState = {
      id: snowflake(), content: '', components: [], embeds: [], attachments: [], flags: 0, type: 0, replyTo: null,
      editCount: 0, editedAt: null, deleted: false, reactions: [], via: 'user', interactionId: null, nonce: null,
      ...fields,
    };
    if (message.replyTo && message.type === 0) message.type = 19;
    this.messages.set(message.id, message);
    const channel = this.requireChannel(message.channelId);
    channel.lastMessageId = message.id;
    channel.messageCount++;
    return message;
  }

  permissionsOf(guild: GuildState, userId: string): bigint {
    if (guild.ownerId === userId) return ALL_PERMISSIONS;
    const member = guild.members.get(userId);
    let bits = guild.roles[0]!.permissions;
    for (const role of guild.roles) if (member?.roles.includes(role.id)) bits |= role.permissions;
    return bits & P.Administrator ? ALL_PERMISSIONS : bits;
  }

  /**
   * What `userId` may do in `channel`, as Discord computes it: guild permissions, then the
   * channel's overwrites for @everyone, the member's roles, the member. Threads take their
   * parent's; DMs allow everything.
   */
  channelPermissionsOf(channel: ChannelState, userId: string): bigint {
    if (!channel.guildId) return ALL_PERMISSIONS;
    const guild = this.requireGuild(channel.guildId);
    const base = this.permissionsOf(guild, userId);
    if (base & P.Administrator) return ALL_PERMISSIONS;
    const source = channel.parentId && (channel.type === 10 || channel.type === 11 || channel.type === 12) ? this.channels.get(channel.parentId) ?? channel : channel;
    const roles = guild.members.get(userId)?.roles ?? [];
    let bits = base;
    const everyone = source.overwrites.find((o) => o.type === 0 && o.id === guild.id);
    if (everyone) bits = (bits & ~everyone.deny) | everyone.allow;
    let allow = 0n;
    let deny = 0n;
    for (const o of source.overwrites) {
      if (o.type === 0 && o.id !== guild.id && roles.includes(o.id)) {
        allow |= o.allow;
        deny |= o.deny;
      }
    }
    bits = (bits & ~deny) | allow;
    const own = source.overwrites.find((o) => o.type === 1 && o.id === userId);
    if (own) bits = (bits & ~own.deny) | own.allow;
    return bits;
  }

  createdAt(id: string): string {
    return snowflakeTime(id);
  }
}
