/** REST routes on channels: messages, edits, typing, threads, reactions, DMs. */
import {
  applyMessageBody, checkCanSend, emit, emitMessage, findChannel, findMessage, INTENT, isResult, isThread, markEdited,
  validateMessageBody, type Core,
} from './core.js';
import { apiError, ok, type FakeHttp, type RouteResult } from './http.js';
import { snowflake } from './ids.js';
import { channelPayload, messagePayload } from './payloads.js';
import type { ChannelState } from './state.js';

function threadNameError(name: unknown): RouteResult | null {
  if (typeof name === 'string' && name.length >= 1 && name.length <= 100) return null;
  return apiError(400, 50035, 'Invalid Form Body', { name: { _errors: [{ code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 100 in length.' }] } });
}

function emitChannel(core: Core, t: 'CREATE' | 'UPDATE', channel: ChannelState, extra: Record<string, unknown> = {}): void {
  emit(core, `${isThread(channel) ? 'THREAD' : 'CHANNEL'}_${t}`, { ...channelPayload(core.state, channel), ...extra }, INTENT.Guilds);
}

export function channelRoutes(http: FakeHttp, core: Core): void {
  const { state } = core;

  http.add('GET /channels/:channelId', ({ params }) => {
    const channel = findChannel(core, params.channelId!);
    return isResult(channel) ? channel : ok(channelPayload(state, channel));
  });

  http.add('PATCH /channels/:channelId', ({ params, body }) => {
    const channel = findChannel(core, params.channelId!);
    if (isResult(channel)) return channel;
    if (body && 'name' in body) {
      const error = threadNameError(body.name);
      if (error) return error;
      channel.name = body.name;
      channel.names.push(body.name);
    }
    if (typeof body?.archived === 'boolean') channel.archived = body.archived;
    if (typeof body?.locked === 'boolean') channel.locked = body.locked;
    if (typeof body?.auto_archive_duration === 'number') channel.autoArchiveDuration = body.auto_archive_duration;
    if (body && 'topic' in body) channel.topic = body.topic;
    emitChannel(core, 'UPDATE', channel);
    return ok(channelPayload(state, channel));
  });

  http.add('POST /channels/:channelId/messages', ({ params, body, files }) => {
    const channel = findChannel(core, params.channelId!);
    if (isResult(channel)) return channel;
    const error = checkCanSend(core, channel) ?? validateMessageBody(body, files);
    if (error) return error;
    const replyTo = body.message_reference?.message_id;
    if (replyTo && !state.messages.get(String(replyTo)) && body.message_reference.fail_if_not_exists !== false) {
      return apiError(400, 50035, 'Invalid Form Body', { message_reference: { _errors: [{ code: 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE', message: 'Unknown message' }] } });
    }
    const message = state.createMessage({ channelId: channel.id, authorId: state.bot.id, via: 'channel' });
    applyMessageBody(message, body, files, false);
    if (isThread(channel)) channel.archived = false;
    emitMessage(core, 'MESSAGE_CREATE', message);
    return ok(messagePayload(state, message));
  });

  http.add('GET /channels/:channelId/messages', ({ params, query }) => {
    const channel = findChannel(core, params.channelId!);
    if (isResult(channel)) return channel;
    const limit = Math.min(100, Math.max(1, Number(query.limit ?? 50)));
    let list = [...state.messages.values()].filter((m) => m.channelId === channel.id && !m.deleted);
    list.sort((a, b) => (BigInt(b.id) > BigInt(a.id) ? 1 : -1)); // newest first
    if (query.before) list = list.filter((m) => BigInt(m.id) < BigInt(query.before!));
    if (query.after) list = list.filter((m) => BigInt(m.id) > BigInt(query.after!)).slice(-limit);
    return ok(list.slice(0, limit).map((m) => messagePayload(state, m)));
  });

  http.add('GET /channels/:channelId/messages/:messageId', ({ params }) => {
    const message = findMessage(core, params.channelId!, params.messageId!);
    return isResult(message) ? message : ok(messagePayload(state, message));
  });

  http.add('PATCH /channels/:channelId/messages/:messageId', ({ params, body, files, route }) => {
    const message = findMessage(core, params.channelId!, params.messageId!);
    if (isResult(message)) return message;
    if (message.authorId !== state.bot.id) return apiError(403, 50005, 'Cannot edit a message authored by another user');
    const verdict = core.limiter.check(message.channelId, route);
    if (!verdict.ok) return { status: 429, body: verdict.body, headers: verdict.headers };
    const error = validateMessageBody(body, files, message);
    if (error) return error;
    applyMessageBody(message, body, files, true);
    markEdited(message);
    emitMessage(core, 'MESSAGE_UPDATE', message);
    return { status: 200, body: messagePayload(state, message), headers: verdict.headers };
  });

  http.add('DELETE /channels/:channelId/messages/:messageId', ({ params }) => {
    const message = findMessage(core, params.channelId!, params.messageId!);
    if (isResult(message)) return message;
    message.deleted = true;
    const channel = state.requireChannel(message.channelId);
    emit(core, 'MESSAGE_DELETE', { id: message.id, channel_id: channel.id, ...(channel.guildId ? { guild_id: channel.guildId } : {}) },
      channel.guildId ? INTENT.GuildMessages : INTENT.DirectMessages);
    return ok();
  });

  http.add('POST /channels/:channelId/typing', ({ params }) => {
    const channel = findChannel(core, params.channelId!);
    if (isResult(channel)) return channel;
    return checkCanSend(core, channel) ?? ok();
  });

  http.add('POST /channels/:channelId/messages/:messageId/threads', ({ params, body }) => {
    const message = findMessage(core, params.channelId!, params.messageId!);
    if (isResult(message)) return message;
    const parent = state.requireChannel(message.channelId);
    if (parent.type !== 0 && parent.type !== 5) return apiError(400, 50024, 'Cannot execute action on this channel type');
    if (state.channels.has(message.id)) return apiError(400, 160004, 'A thread has already been created for this message');
    const error = threadNameError(body?.name);
    if (error) return error;
    const thread = state.addChannel(parent.guildId!, { id: message.id, name: body.name, type: parent.type === 5 ? 10 : 11, parentId: parent.id }, true);
    thread.starterMessageId = message.id;
    if (typeof body.auto_archive_duration === 'number') thread.autoArchiveDuration = body.auto_archive_duration;
    message.flags |= 32; // HAS_THREAD
    emitChannel(core, 'CREATE', thread, { newly_created: true });
    return ok(channelPayload(state, thread), 201);
  });

  http.add('POST /channels/:channelId/threads', ({ params, body }) => {
    const parent = findChannel(core, params.channelId!);
    if (isResult(parent)) return parent;
    if (parent.type !== 0 && parent.type !== 5) return apiError(400, 50024, 'Cannot execute action on this channel type');
    const error = threadNameError(body?.name);
    if (error) return error;
    const thread = state.addChannel(parent.guildId!, { id: snowflake(), name: body.name, type: body.type ?? 11, parentId: parent.id }, true);
    if (typeof body.auto_archive_duration === 'number') thread.autoArchiveDuration = body.auto_archive_duration;
    emitChannel(core, 'CREATE', thread, { newly_created: true });
    return ok(channelPayload(state, thread), 201);
  });

  const react = (add: boolean) => ({ params }: { params: Record<string, string> }): RouteResult => {
    const message = findMessage(core, params.channelId!, params.messageId!);
    if (isResult(message)) return message;
    const emoji = params.emoji!;
    const had = message.reactions.includes(emoji);
    if (add && !had) message.reactions.push(emoji);
    if (!add) message.reactions = message.reactions.filter((e) => e !== emoji);
    if (add !== had) {
      const channel = state.requireChannel(message.channelId);
      const [name, id] = emoji.split(':');
      emit(core, add ? 'MESSAGE_REACTION_ADD' : 'MESSAGE_REACTION_REMOVE', {
        user_id: state.bot.id, channel_id: channel.id, message_id: message.id, emoji: { id: id ?? null, name },
        burst: false, type: 0, message_author_id: message.authorId,
        ...(channel.guildId ? { guild_id: channel.guildId } : {}),
      }, channel.guildId ? INTENT.GuildMessageReactions : INTENT.DirectMessageReactions);
    }
    return ok();
  };
  http.add('PUT /channels/:channelId/messages/:messageId/reactions/:emoji/@me', react(true));
  http.add('DELETE /channels/:channelId/messages/:messageId/reactions/:emoji/@me', react(false));

  http.add('POST /users/@me/channels', ({ body }) => {
    if (!body?.recipient_id || !state.users.has(String(body.recipient_id))) return apiError(400, 50033, 'Invalid Recipient(s)');
    return ok(channelPayload(state, state.dmChannel(String(body.recipient_id)).channel));
  });
}
