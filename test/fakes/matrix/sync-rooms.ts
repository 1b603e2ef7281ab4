/**
 * One room's part of a `/sync` answer for one user: `rooms.join` (timeline, state, ephemeral,
 * account data, unread counts, summary), `rooms.invite` (stripped state) or `rooms.leave`.
 * State is the classic kind: the state at the start of the timeline (MSC4222's `state_after`,
 * which the SDK asks for, is not offered, as on a server without it).
 */
import type { Homeserver } from './homeserver.js';
import { relationOf, type Room } from './rooms.js';
import { clientEvent, strippedState, type Viewer } from './serialize.js';
import type { Json, StoredEvent } from './types.js';

export interface RoomEventFilter {
  limit?: number;
  types?: string[];
  not_types?: string[];
  rooms?: string[];
  not_rooms?: string[];
  unread_thread_notifications?: boolean;
}

export interface SyncFilter {
  room?: { timeline?: RoomEventFilter; state?: RoomEventFilter; ephemeral?: RoomEventFilter; include_leave?: boolean; rooms?: string[]; not_rooms?: string[] };
}

export interface RoomSyncContext {
  hs: Homeserver;
  viewer: Viewer;
  /** the stream position the client has seen; null for an initial sync */
  since: number | null;
  filter: SyncFilter;
  fullState: boolean;
}

/** Synapse's default timeline limit */
const DEFAULT_TIMELINE_LIMIT = 10;
const INVITE_STATE_TYPES = ['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.avatar', 'm.room.canonical_alias', 'm.room.encryption', 'm.room.topic'];
const NOTIFYING_TYPES = ['m.room.message', 'm.room.encrypted', 'm.sticker'];

const glob = (pattern: string, value: string): boolean =>
  pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : pattern === value;

function passes(filter: RoomEventFilter | undefined, event: StoredEvent): boolean {
  if (!filter) return true;
  if (filter.not_types?.some((t) => glob(t, event.type))) return false;
  return !filter.types || filter.types.some((t) => glob(t, event.type));
}

export function roomWanted(filter: SyncFilter, roomId: string): boolean {
  const room = filter.room;
  if (room?.not_rooms?.includes(roomId)) return false;
  return !room?.rooms || room.rooms.includes(roomId);
}

const token = (position: number): string => `s${position}`;

interface TimelineAndState {
  timeline: { events: Json[]; limited: boolean; prev_batch: string };
  state: { events: Json[] };
}

/** The timeline (newest `limit` of `candidates`) and the state before it. */
function timelineAndState(ctx: RoomSyncContext, room: Room, candidates: StoredEvent[], withState: boolean): TimelineAndState {
  const timelineFilter = ctx.filter.room?.timeline;
  const limit = timelineFilter?.limit ?? DEFAULT_TIMELINE_LIMIT;
  const visible = candidates.filter((e) => passes(timelineFilter, e));
  const events = limit > 0 ? visible.slice(-limit) : [];
  const limited = visible.length > events.length;
  const start = events[0]?.position ?? ctx.hs.position + 1;
  const serialize = (e: StoredEvent): Json => clientEvent(room, e, ctx.viewer, { withRoomId: false }) as unknown as Json;
  const state = withState || limited ? room.stateBefore(start).filter((e) => passes(ctx.filter.room?.state, e)) : [];
  return {
    timeline: { events: events.map(serialize), limited, prev_batch: token(start - 1) },
    state: { events: state.map(serialize) },
  };
}

function receiptsEvent(room: Room, viewer: Viewer, since: number): Json | null {
  const content: Record<string, Record<string, Record<string, Json>>> = {};
  for (const r of room.receipts) {
    if (r.position <= since || (r.receiptType === 'm.read.private' && r.userId !== viewer.userId)) continue;
    const byType = (content[r.eventId] ??= {});
    const byUser = (byType[r.receiptType] ??= {});
    byUser[r.userId] = { ts: r.ts, ...(r.threadId ? { thread_id: r.threadId } : {}) };
  }
  return Object.keys(content).length > 0 ? { type: 'm.receipt', content } : null;
}

function ephemeral(ctx: RoomSyncContext, room: Room): Json[] {
  const since = ctx.since ?? 0;
  const events: Json[] = [];
  const typing = room.typingUsers();
  if (ctx.since === null ? typing.length > 0 : room.typingPosition > since) events.push({ type: 'm.typing', content: { user_ids: typing } });
  const receipts = receiptsEvent(room, ctx.viewer, since);
  if (receipts) events.push(receipts);
  return events;
}

/** Notifying events after the user's newest read receipt, by thread when asked. */
function unreadCounts(room: Room, userId: string, byThread: boolean): Json {
  let read = 0;
  for (const r of room.receipts) {
    if (r.userId !== userId || (r.receiptType !== 'm.read' && r.receiptType !== 'm.read.private')) continue;
    read = Math.max(read, room.find(r.eventId)?.position ?? 0);
  }
  const main = { notification_count: 0, highlight_count: 0 };
  const threads: Record<string, { notification_count: number; highlight_count: number }> = {};
  for (const e of room.events) {
    const relation = relationOf(e);
    if (e.position <= read || e.sender === userId || e.redactedBy || !NOTIFYING_TYPES.includes(e.type) || relation?.rel_type === 'm.replace') continue;
    const mentions = e.content['m.mentions'] as { user_ids?: string[]; room?: boolean } | undefined;
    const counts = byThread && relation?.rel_type === 'm.thread' && relation.event_id ? (threads[relation.event_id] ??= { notification_count: 0, highlight_count: 0 }) : main;
    counts.notification_count += 1;
    if (mentions?.user_ids?.includes(userId) || mentions?.room === true) counts.highlight_count += 1;
  }
  return { unread_notifications: main, ...(byThread ? { unread_thread_notifications: threads } : {}) };
}

function summary(room: Room, userId: string): Json {
  const joined = room.members('join');
  const invited = room.members('invite');
  return { 'm.heroes': [...joined, ...invited].filter((u) => u !== userId).slice(0, 5), 'm.joined_member_count': joined.length, 'm.invited_member_count': invited.length };
}

/** `rooms.join[roomId]`, or null when nothing changed for the user. */
export function joinedRoom(ctx: RoomSyncContext, room: Room, memberEvent: StoredEvent): Json | null {
  const userId = ctx.viewer.userId;
  const fresh = ctx.since === null || memberEvent.position > ctx.since;
  const candidates = fresh ? room.events : room.events.filter((e) => e.position > ctx.since!);
  const { timeline, state } = timelineAndState(ctx, room, candidates, fresh || ctx.fullState);
  const accountData = ctx.hs.accounts.accountDataSince(userId, room.roomId, ctx.since ?? 0);
  const ephemeralEvents = ephemeral(ctx, room);
  if (!fresh && !ctx.fullState && timeline.events.length === 0 && state.events.length === 0 && ephemeralEvents.length === 0 && accountData.length === 0) return null;
  return {
    timeline,
    state,
    ephemeral: { events: ephemeralEvents },
    account_data: { events: accountData },
    summary: summary(room, userId),
    ...unreadCounts(room, userId, ctx.filter.room?.timeline?.unread_thread_notifications === true),
  };
}

/** `rooms.invite[roomId]`: what the invitee may see before joining. */
export function invitedRoom(room: Room, memberEvent: StoredEvent): Json {
  const state = INVITE_STATE_TYPES.map((type) => room.getState(type)).filter((e): e is StoredEvent => e !== undefined);
  const inviter = room.getState('m.room.member', memberEvent.sender);
  const events = [...state, ...(inviter && inviter !== memberEvent ? [inviter] : []), memberEvent].map(strippedState);
  return { invite_state: { events } };
}

/** `rooms.leave[roomId]`: the timeline up to the leave (only the leave itself if never joined). */
export function leftRoom(ctx: RoomSyncContext, room: Room, memberEvent: StoredEvent): Json {
  const since = ctx.since ?? 0;
  const joined = room.everJoined(ctx.viewer.userId);
  const candidates = joined ? room.events.filter((e) => e.position > since && e.position <= memberEvent.position) : [memberEvent];
  return { ...timelineAndState(ctx, room, candidates, joined && ctx.since === null), account_data: { events: [] } };
}
