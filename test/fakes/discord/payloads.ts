/** Discord API objects (v10 JSON) built from the fake's state. */
import type { AttachmentState, ChannelState, FakeState, GuildState, MessageState } from './state.js';
import type { FakeUser } from './types.js';

export function userPayload(user: FakeUser): Record<string, unknown> {
  return {
    id: user.id,
    username: user.username,
    discriminator: '0',
    global_name: user.globalName ?? null,
    avatar: null,
    bot: user.bot ?? false,
    system: false,
    public_flags: 0,
    flags: 0,
    banner: null,
    accent_color: null,
    avatar_decoration_data: null,
    primary_guild: null,
  };
}

/** A guild member; `withUser` false for MESSAGE_CREATE's `member` (Discord omits `user` there). */
export function memberPayload(state: FakeState, guild: GuildState, userId: string, withUser = true): Record<string, unknown> {
  const member = state.ensureMember(guild, userId);
  return {
    ...(withUser ? { user: userPayload(state.ensureUser(userId)) } : {}),
    nick: member.nick,
    avatar: null,
    banner: null,
    roles: member.roles,
    joined_at: member.joinedAt,
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    communication_disabled_until: null,
  };
}

export function channelPayload(state: FakeState, channel: ChannelState): Record<string, unknown> {
  if (channel.type === 1) {
    return {
      id: channel.id,
      type: 1,
      last_message_id: channel.lastMessageId,
      flags: 0,
      recipients: [userPayload(state.ensureUser(channel.recipientId!))],
    };
  }
  const base = {
    id: channel.id,
    type: channel.type,
    guild_id: channel.guildId,
    name: channel.name,
    parent_id: channel.parentId,
    last_message_id: channel.lastMessageId,
    rate_limit_per_user: 0,
    flags: 0,
  };
  if (channel.type === 10 || channel.type === 11 || channel.type === 12) {
    const now = new Date().toISOString();
    return {
      ...base,
      owner_id: channel.ownerId,
      message_count: channel.messageCount,
      total_message_sent: channel.messageCount,
      member_count: 1,
      applied_tags: [],
      thread_metadata: {
        archived: channel.archived,
        auto_archive_duration: channel.autoArchiveDuration,
        archive_timestamp: now,
        locked: channel.locked,
        create_timestamp: state.createdAt(channel.id),
        ...(channel.type === 12 ? { invitable: true } : {}),
      },
    };
  }
  return {
    ...base,
    position: channel.position,
    permission_overwrites: channel.overwrites.map((o) => ({ id: o.id, type: o.type, allow: o.allow.toString(), deny: o.deny.toString() })),
    topic: channel.topic,
    nsfw: false,
    default_auto_archive_duration: 1440,
    default_thread_rate_limit_per_user: 0,
  };
}

export function rolePayload(role: GuildState['roles'][number]): Record<string, unknown> {
  return {
    id: role.id,
    name: role.name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: role.position,
    permissions: role.permissions.toString(),
    managed: role.botId !== null,
    mentionable: false,
    flags: 0,
    ...(role.botId ? { tags: { bot_id: role.botId } } : {}),
  };
}

/** GUILD_CREATE: the guild with roles, channels, active threads and (like Discord without the members intent) only the bot member. */
export function guildCreatePayload(state: FakeState, guild: GuildState): Record<string, unknown> {
  const channels = [...state.channels.values()].filter((c) => c.guildId === guild.id);
  const isThread = (c: ChannelState) => c.type === 10 || c.type === 11 || c.type === 12;
  return {
    id: guild.id,
    name: guild.name,
    icon: null,
    splash: null,
    discovery_splash: null,
    banner: null,
    description: null,
    owner_id: guild.ownerId,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    roles: guild.roles.map(rolePayload),
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: null,
    system_channel_flags: 0,
    rules_channel_id: null,
    public_updates_channel_id: null,
    safety_alerts_channel_id: null,
    max_members: 500000,
    max_video_channel_users: 25,
    vanity_url_code: null,
    premium_tier: 0,
    premium_subscription_count: 0,
    premium_progress_bar_enabled: false,
    preferred_locale: 'en-US',
    nsfw_level: 0,
    nsfw: false,
    incidents_data: null,
    joined_at: guild.joinedAt,
    large: false,
    unavailable: false,
    lazy: true,
    member_count: guild.members.size,
    voice_states: [],
    members: [memberPayload(state, guild, state.bot.id)],
    channels: channels.filter((c) => !isThread(c)).map((c) => {
      const { guild_id: _omit, ...rest } = channelPayload(state, c);
      return rest;
    }),
    threads: channels.filter((c) => isThread(c) && !c.archived).map((c) => channelPayload(state, c)),
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}

export function attachmentPayload(state: FakeState, channelId: string, a: AttachmentState): Record<string, unknown> {
  const url = `${state.baseUrl}/attachments/${channelId}/${a.id}/${encodeURIComponent(a.filename)}`;
  return {
    id: a.id,
    filename: a.filename,
    size: a.data.length,
    url,
    proxy_url: url,
    content_type: a.contentType,
    ...(a.width !== undefined ? { width: a.width, height: a.height ?? a.width } : {}),
  };
}

const MENTION = /<@!?(\d+)>/g;
const ROLE_MENTION = /<@&(\d+)>/g;

/**
 * A message as REST returns it, or as a gateway dispatch (`gateway`: adds `channel_type`, and in
 * guilds `guild_id`, the author's `member` and `member` on each mentioned user).
 */
export function messagePayload(state: FakeState, message: MessageState, gateway = false, depth = 0): Record<string, unknown> {
  const channel = state.requireChannel(message.channelId);
  const guild = channel.guildId ? state.guilds.get(channel.guildId) : undefined;
  const author = state.ensureUser(message.authorId);
  const mentionIds = new Set([...message.content.matchAll(MENTION)].map((m) => m[1]!).filter((id) => state.users.has(id)));
  const referenced = message.replyTo ? state.messages.get(message.replyTo) : undefined;
  const payload: Record<string, unknown> = {
    id: message.id,
    type: message.type,
    channel_id: message.channelId,
    author: userPayload(author),
    content: message.content,
    timestamp: state.createdAt(message.id),
    edited_timestamp: message.editedAt,
    tts: false,
    mention_everyone: false,
    mentions: [...mentionIds].map((id) => ({
      ...userPayload(state.users.get(id)!),
      ...(gateway && guild ? { member: memberPayload(state, guild, id, false) } : {}),
    })),
    mention_roles: [...message.content.matchAll(ROLE_MENTION)].map((m) => m[1]!),
    attachments: message.attachments.map((a) => attachmentPayload(state, message.channelId, a)),
    embeds: message.embeds,
    components: message.components,
    pinned: false,
    flags: message.flags,
    ...(message.nonce !== null ? { nonce: message.nonce } : {}),
  };
  if (channel.type === 11 || channel.type === 12) payload.position = channel.messageCount;
  if (message.replyTo) {
    payload.message_reference = { type: 0, message_id: message.replyTo, channel_id: referenced?.channelId ?? message.channelId, ...(guild ? { guild_id: guild.id } : {}) };
    payload.referenced_message = referenced && !referenced.deleted && depth === 0 ? messagePayload(state, referenced, false, 1) : null;
  }
  if (message.via !== 'user' && message.via !== 'channel') {
    payload.webhook_id = state.applicationId;
    payload.application_id = state.applicationId;
    const interaction = [...state.interactions.values()].find((i) => i.id === message.interactionId);
    if (interaction) {
      payload.interaction_metadata = {
        id: interaction.id,
        type: interaction.type,
        user: userPayload(state.ensureUser(interaction.userId)),
        authorizing_integration_owners: interaction.guildId ? { '0': interaction.guildId } : { '1': interaction.userId },
      };
    }
  }
  const thread = state.channels.get(message.id);
  if (thread && thread.starterMessageId === message.id) payload.thread = channelPayload(state, thread);
  if (gateway) payload.channel_type = channel.type;
  if (gateway && guild) {
    payload.guild_id = guild.id;
    if (message.via === 'user' || message.via === 'channel') payload.member = memberPayload(state, guild, author.id, false);
  }
  return payload;
}
