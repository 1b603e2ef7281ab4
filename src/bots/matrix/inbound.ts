import { findCommand } from '../../core/commands/table.js';
import type { ActionName, Attachment, Inbound, InboundPlace } from '../../core/inbound.js';

export const MATRIX = 'matrix';

/** The fields of a (decrypted) room event this adapter reads. */
export interface RoomEventLike {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
}

interface Relation {
  rel_type?: string;
  event_id?: string;
  key?: string;
  'm.in_reply_to'?: { event_id?: string };
  is_falling_back?: boolean;
}

export interface BotIdentity {
  userId: string;
  displayName: string;
  commandPrefix: string;
}

/** The facts the core's admission decides by: on Matrix, the server the author's account lives on. */
export function placeFacts(userId: string): InboundPlace {
  return { guildId: null, roles: [], authorServer: userId.slice(userId.indexOf(':') + 1) };
}

export interface InboundContext {
  bot: BotIdentity;
  isDirect: boolean;
  /** power level 100 in the room; configured admins are the core's to check */
  isAdmin: boolean;
  authorName: string;
  attachments?: Attachment[];
  /** for an edit: the thread its original message is in */
  threadOfOriginal?: string | null;
}

/** Reactions users put on an answer, as actions; with and without the emoji variation selector. */
const REACTION_ACTIONS: Record<string, ActionName> = {
  '🔁': 'regen',
  '◀️': 'prev',
  '◀': 'prev',
  '⬅️': 'prev',
  '▶️': 'next',
  '▶': 'next',
  '➡️': 'next',
  '⏹️': 'stop',
  '⏹': 'stop',
  '🛑': 'stop',
  '✅': 'approve',
  '✔️': 'approve',
  '❌': 'deny',
};

export const REACTION_FOR: Record<Exclude<ActionName, 'stop'>, string> = { regen: '🔁', prev: '◀️', next: '▶️', approve: '✅', deny: '❌' };

export function reactionAction(key: string): ActionName | null {
  return REACTION_ACTIONS[key] ?? null;
}

function relationOf(content: Record<string, unknown>): Relation {
  const relation = content['m.relates_to'];
  return relation && typeof relation === 'object' ? (relation as Relation) : {};
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Legacy rich-reply fallback: the quoted lines clients put before the reply itself. */
function withoutReplyFallback(body: string): string {
  if (!body.startsWith('> ')) return body;
  const lines = body.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith('>')) i++;
  return lines.slice(i).join('\n').trim();
}

/**
 * Whether the message addresses the bot: an intentional mention (`m.mentions`), a pill to the bot
 * in the HTML body, its user id, or its display name as a word.
 */
export function mentionsBot(content: Record<string, unknown>, body: string, bot: BotIdentity): boolean {
  const mentions = content['m.mentions'] as { user_ids?: unknown } | undefined;
  if (Array.isArray(mentions?.user_ids) && mentions.user_ids.includes(bot.userId)) return true;
  const html = typeof content.formatted_body === 'string' ? content.formatted_body : '';
  if (html.includes(`matrix.to/#/${bot.userId}`) || html.includes(`matrix.to/#/${encodeURIComponent(bot.userId)}`)) return true;
  if (body.includes(bot.userId)) return true;
  return bot.displayName.length > 0 && new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRegExp(bot.displayName)}($|[^\\p{L}\\p{N}])`, 'iu').test(body);
}

/** The text without the leading mention ("Threadloom: …", "@bot:server …"). */
export function withoutMention(body: string, bot: BotIdentity): string {
  let text = body.split(bot.userId).join('').trim();
  if (bot.displayName) text = text.replace(new RegExp(`^${escapeRegExp(bot.displayName)}\\s*[:,]?\\s*`, 'iu'), '');
  return text.trim();
}

function textOf(content: Record<string, unknown>): string {
  const body = typeof content.body === 'string' ? content.body : '';
  // an image or file's body is its name, unless a separate filename makes the body a caption
  if (content.msgtype === 'm.image' || content.msgtype === 'm.file') return typeof content.filename === 'string' && content.filename !== body ? body : '';
  return body;
}

/**
 * A room event as the engine's Inbound, or null for events the bot does not act on.
 * Messages in a thread (`m.thread`) carry its root as threadId; an `m.replace` is an edit of
 * the original; an `m.reaction` with one of the action emoji is an action on that answer.
 */
export function eventInbound(event: RoomEventLike, ctx: InboundContext): Inbound | null {
  const relation = relationOf(event.content);
  const base = {
    platform: MATRIX,
    eventId: event.event_id,
    channelId: event.room_id,
    author: { id: event.sender, name: ctx.authorName, isBot: false },
    attachments: ctx.attachments ?? [],
    isDirect: ctx.isDirect,
    authorIsAdmin: ctx.isAdmin,
    place: placeFacts(event.sender),
  };

  if (event.type === 'm.reaction') {
    const name = relation.rel_type === 'm.annotation' && relation.key ? reactionAction(relation.key) : null;
    if (!name || !relation.event_id) return null;
    return {
      ...base,
      threadId: null,
      messageId: event.event_id,
      text: '',
      replyTo: null,
      mentionsBot: true,
      kind: 'action',
      action: { name, targetMessageId: relation.event_id },
    };
  }
  if (event.type !== 'm.room.message') return null;
  const msgtype = event.content.msgtype;
  // notices are what bots send: answering them is how two bots loop
  if (msgtype === 'm.notice') return null;

  if (relation.rel_type === 'm.replace' && relation.event_id) {
    const replacement = event.content['m.new_content'];
    if (!replacement || typeof replacement !== 'object') return null;
    const body = textOf(replacement as Record<string, unknown>);
    return {
      ...base,
      threadId: ctx.threadOfOriginal ?? null,
      messageId: relation.event_id,
      text: withoutMention(body, ctx.bot),
      replyTo: null,
      mentionsBot: mentionsBot(replacement as Record<string, unknown>, body, ctx.bot),
      kind: 'edit',
    };
  }

  const body = withoutReplyFallback(textOf(event.content));
  const threadId = relation.rel_type === 'm.thread' && relation.event_id ? relation.event_id : null;
  const replyTo = !threadId || relation.is_falling_back === false ? (relation['m.in_reply_to']?.event_id ?? null) : null;
  let text = withoutMention(body, ctx.bot);
  const addressed = mentionsBot(event.content, body, ctx.bot);
  const prefix = ctx.bot.commandPrefix;
  const prefixed = text === prefix || text.startsWith(`${prefix} `) || text.startsWith(`${prefix}\n`);
  const message: Inbound = {
    ...base,
    threadId,
    messageId: event.event_id,
    text,
    replyTo,
    mentionsBot: addressed || prefixed,
    kind: 'message',
  };
  if (!prefixed) return message;
  text = text.slice(prefix.length).trim();
  const word = text.split(/\s+/)[0] ?? '';
  // `!tl <command> …` runs the command, `!tl` alone is help; `!tl <anything else>` is a question
  if (text === '' || findCommand(word)) {
    return { ...message, text: `${prefix} ${text}`.trim(), kind: 'command', command: { name: (word || 'help').toLowerCase(), args: text.slice(word.length).trim() } };
  }
  return { ...message, text };
}
