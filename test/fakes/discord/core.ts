/** What the route and actor modules share: the state, the gateway, intents, message-body handling. */
import type { FakeGateway } from './gateway.js';
import { apiError, type RouteResult } from './http.js';
import { snowflake } from './ids.js';
import { messagePayload } from './payloads.js';
import type { EditLimiter } from './ratelimit.js';
import type { ChannelState, FakeState, MessageState } from './state.js';
import type { FakeInteractionResponse, RecordedFile } from './types.js';

export const INTENT = {
  Guilds: 1 << 0,
  GuildMessages: 1 << 9,
  GuildMessageReactions: 1 << 10,
  DirectMessages: 1 << 12,
  DirectMessageReactions: 1 << 13,
  MessageContent: 1 << 15,
} as const;

export interface Core {
  state: FakeState;
  gateway: FakeGateway;
  /** the shard count GET /gateway/bot recommends */
  recommendedShards: number;
  limiter: EditLimiter;
  interactionResponses: FakeInteractionResponse[];
  interactionTimeoutMs: number;
}

/**
 * Dispatches to the session of the shard `d` belongs to when it identified with `intent` (0:
 * always); otherwise drops it, as Discord does. `shape` adapts the payload to a session's intents.
 */
export function emit(core: Core, t: string, d: unknown, intent = 0, shape?: (d: unknown, intents: number) => unknown): number | null {
  if (!core.gateway.hasSession) return null;
  const guildId = t === 'GUILD_CREATE' ? (d as { id: string }).id : ((d as { guild_id?: string }).guild_id ?? null);
  let seq: number | null = null;
  for (const session of core.gateway.sessionsFor(guildId)) {
    if (intent && !(session.intents & intent)) continue;
    seq = core.gateway.dispatchTo(session, t, shape ? shape(d, session.intents) : d);
  }
  return seq;
}

export const isThread = (c: ChannelState): boolean => c.type === 10 || c.type === 11 || c.type === 12;

/** MESSAGE_CREATE / MESSAGE_UPDATE, gated by GuildMessages/DirectMessages and blanked without MessageContent. */
export function emitMessage(core: Core, t: 'MESSAGE_CREATE' | 'MESSAGE_UPDATE', message: MessageState): number | null {
  if (message.flags & 64) return null; // ephemeral: not dispatched to the bot
  const channel = core.state.requireChannel(message.channelId);
  const payload = messagePayload(core.state, message, true);
  const own = message.authorId === core.state.bot.id;
  const mentionsBot = (payload.mentions as Array<{ id: string }>).some((u) => u.id === core.state.bot.id);
  const blank = channel.guildId && !own && !mentionsBot;
  return emit(core, t, payload, channel.guildId ? INTENT.GuildMessages : INTENT.DirectMessages, (d, intents) =>
    blank && !(intents & INTENT.MessageContent) ? { ...(d as object), content: '', embeds: [], attachments: [], components: [] } : d);
}

const unknownChannel = (): RouteResult => apiError(404, 10003, 'Unknown Channel');
const unknownMessage = (): RouteResult => apiError(404, 10008, 'Unknown Message');

export function findChannel(core: Core, id: string): ChannelState | RouteResult {
  return core.state.channels.get(id) ?? unknownChannel();
}

export function findMessage(core: Core, channelId: string, id: string): MessageState | RouteResult {
  const message = core.state.messages.get(id);
  return message && !message.deleted && message.channelId === channelId ? message : unknownMessage();
}

export const isResult = (x: unknown): x is RouteResult => typeof x === 'object' && x !== null && 'status' in x && !('id' in x);

/** 403 Missing Permissions unless the bot may post in `channel`. */
export function checkCanSend(core: Core, channel: ChannelState): RouteResult | null {
  if (!channel.guildId) return null;
  const perms = core.state.channelPermissionsOf(channel, core.state.bot.id);
  const need = isThread(channel) ? 1n << 38n : 1n << 11n; // SendMessagesInThreads : SendMessages
  if (!(perms & need) || !(perms & (1n << 10n))) return apiError(403, 50013, 'Missing Permissions');
  if (isThread(channel) && channel.locked) return apiError(403, 50083, 'Thread is archived');
  return null;
}

function formError(field: string, code: string, message: string): RouteResult {
  return apiError(400, 50035, 'Invalid Form Body', { [field]: { _errors: [{ code, message }] } });
}

/** Discord's own checks on a message body (content length, empty message). */
export function validateMessageBody(body: any, files: RecordedFile[], existing?: MessageState): RouteResult | null {
  if (body === undefined || typeof body !== 'object' || body === null) return apiError(400, 50109, 'The request body contains invalid JSON.');
  if (typeof body.content === 'string' && body.content.length > 2000) {
    return formError('content', 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
  }
  const content = 'content' in body ? (body.content ?? '') : (existing?.content ?? '');
  const embeds = 'embeds' in body ? (body.embeds ?? []) : (existing?.embeds ?? []);
  const components = 'components' in body ? (body.components ?? []) : (existing?.components ?? []);
  const attachments = files.length + (Array.isArray(body.attachments) ? body.attachments.length : (existing?.attachments.length ?? 0));
  const empty = content === '' && embeds.length === 0 && components.length === 0 && attachments === 0 && !body.sticker_ids?.length && !body.poll;
  if (empty && !(existing && existing.flags & 128)) return apiError(400, 50006, 'Cannot send an empty message');
  return null;
}

/** Applies content/embeds/components/flags/attachments of a create or edit body to `message`. */
export function applyMessageBody(message: MessageState, body: any, files: RecordedFile[], editing: boolean): void {
  if ('content' in body) message.content = body.content ?? '';
  if ('embeds' in body) message.embeds = body.embeds ?? [];
  if ('components' in body) message.components = body.components ?? [];
  if (typeof body.flags === 'number') {
    const settable = 4 | 64 | 4096 | 32768;
    message.flags = editing ? (message.flags & ~(4 | 32768)) | (body.flags & (4 | 32768)) : body.flags & settable;
  }
  const meta: any[] = Array.isArray(body.attachments) ? body.attachments : [];
  const added = files.map((file) => {
    const index = /\[(\d+)\]/.exec(file.field)?.[1] ?? file.field;
    const m = meta.find((a) => String(a.id) === index);
    return { id: snowflake(), filename: m?.filename ?? file.name, contentType: file.contentType, data: file.data };
  });
  if (!editing) message.attachments = added;
  else if (Array.isArray(body.attachments)) {
    const kept = message.attachments.filter((a) => meta.some((m) => String(m.id) === a.id));
    message.attachments = [...kept, ...added];
  } else message.attachments.push(...added);
  if (!editing && body.message_reference?.message_id) message.replyTo = String(body.message_reference.message_id);
  if (!editing && body.nonce !== undefined) message.nonce = body.nonce;
}

/** Records a successful edit on `message`. */
export function markEdited(message: MessageState): void {
  message.editCount++;
  message.editedAt = new Date().toISOString();
  message.flags &= ~128; // an edit resolves a deferred ("thinking…") reply
}
