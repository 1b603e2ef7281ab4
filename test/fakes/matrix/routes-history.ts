/**
 * Reading history: one event, `/messages` pages, `/context`, and the v1 relations and threads
 * endpoints. Page tokens are stream tokens (`s<position>`) like /sync's. A user who left sees
 * the room up to their leave.
 */
import { badJson, MatrixApiError, notFound } from './errors.js';
import type { Homeserver } from './homeserver.js';
import { relationOf, type Room } from './rooms.js';
import { authed, json, type Answer, type AuthedContext, type Route } from './router.js';
import { visibleRoom } from './routes-rooms.js';
import { clientEvent, type Viewer } from './serialize.js';
import { parseToken, streamToken } from './sync.js';
import type { StoredEvent } from './types.js';

const MESSAGES_DEFAULT_LIMIT = 10;
const RELATIONS_DEFAULT_LIMIT = 5;
const MAX_LIMIT = 1_000;
const MAX_RECURSION = 3;

interface Page {
  chunk: StoredEvent[];
  next?: string;
}

/** `events` oldest first; backwards from `from` (inclusive) or forwards after it, stopping at `to`. */
function paginate(events: StoredEvent[], dir: 'b' | 'f', from: number | null, to: number | null, limit: number): Page {
  if (dir === 'b') {
    const eligible = events.filter((e) => (from === null || e.position <= from) && (to === null || e.position > to));
    const chunk = eligible.slice(-limit).reverse();
    return { chunk, ...(eligible.length > chunk.length ? { next: streamToken(chunk[chunk.length - 1]!.position - 1) } : {}) };
  }
  const eligible = events.filter((e) => (from === null || e.position > from) && (to === null || e.position <= to));
  const chunk = eligible.slice(0, limit);
  return { chunk, ...(eligible.length > chunk.length ? { next: streamToken(chunk[chunk.length - 1]!.position) } : {}) };
}

function pageParams(ctx: AuthedContext, defaultLimit: number): { dir: 'b' | 'f'; from: number | null; to: number | null; limit: number } {
  const dir = ctx.query.get('dir') ?? ctx.query.get('org.matrix.msc3715.dir') ?? 'b';
  if (dir !== 'b' && dir !== 'f') throw new MatrixApiError(400, 'M_INVALID_PARAM', 'dir must be b or f');
  const limit = Math.min(MAX_LIMIT, Math.max(0, Number(ctx.query.get('limit') ?? defaultLimit) || defaultLimit));
  return { dir, from: parseToken(ctx.query.get('from')), to: parseToken(ctx.query.get('to')), limit };
}

const viewerOf = (ctx: AuthedContext): Viewer => ({ userId: ctx.device.userId, token: ctx.device.token });

/** What the caller may read of `room`: all of it while joined, up to their leave after. */
function readable(room: Room, userId: string): StoredEvent[] {
  if (room.membership(userId) === 'join') return room.events;
  const until = room.getState('m.room.member', userId)?.position ?? 0;
  return room.events.filter((e) => e.position <= until);
}

function findReadable(hs: Homeserver, ctx: AuthedContext): { room: Room; event: StoredEvent } {
  const room = visibleRoom(hs, ctx.params.roomId!, ctx.device.userId);
  const event = readable(room, ctx.device.userId).find((e) => e.event_id === ctx.params.eventId);
  if (!event) throw notFound('Event not found.');
  return { room, event };
}

function typesFilter(raw: string | null): (e: StoredEvent) => boolean {
  if (!raw) return () => true;
  let filter: { types?: string[]; not_types?: string[] };
  try {
    filter = JSON.parse(raw) as typeof filter;
  } catch {
    throw badJson('filter is not valid JSON');
  }
  return (e) => !filter.not_types?.includes(e.type) && (!filter.types || filter.types.includes(e.type));
}

function messages(ctx: AuthedContext): Answer {
  const room = visibleRoom(ctx.hs, ctx.params.roomId!, ctx.device.userId);
  const { dir, from, to, limit } = pageParams(ctx, MESSAGES_DEFAULT_LIMIT);
  const page = paginate(readable(room, ctx.device.userId).filter(typesFilter(ctx.query.get('filter'))), dir, from, to, limit);
  const start = ctx.query.get('from') ?? streamToken(dir === 'b' ? ctx.hs.position : 0);
  return json({ start, chunk: page.chunk.map((e) => clientEvent(room, e, viewerOf(ctx))), ...(page.next ? { end: page.next } : {}) });
}

function context(ctx: AuthedContext): Answer {
  const { room, event } = findReadable(ctx.hs, ctx);
  const limit = Math.min(MAX_LIMIT, Number(ctx.query.get('limit') ?? MESSAGES_DEFAULT_LIMIT) || MESSAGES_DEFAULT_LIMIT);
  const events = readable(room, ctx.device.userId);
  const before = paginate(events, 'b', event.position - 1, null, Math.floor(limit / 2));
  const after = paginate(events, 'f', event.position, null, Math.ceil(limit / 2));
  const last = after.chunk[after.chunk.length - 1]?.position ?? event.position;
  const serialize = (e: StoredEvent): unknown => clientEvent(room, e, viewerOf(ctx));
  return json({
    event: serialize(event),
    events_before: before.chunk.map(serialize),
    events_after: after.chunk.map(serialize),
    start: before.next ?? streamToken(Math.max(0, (before.chunk[before.chunk.length - 1]?.position ?? event.position) - 1)),
    end: streamToken(last),
    state: room.stateBefore(last + 1).map(serialize),
  });
}

/** Children of `eventId` (their children too when recursing), oldest first. */
function related(room: Room, eventId: string, depth: number): StoredEvent[] {
  const children = room.relationsOf(eventId).filter((e) => !e.redactedBy);
  if (depth <= 1) return children;
  return [...children, ...children.flatMap((c) => related(room, c.event_id, depth - 1))].sort((a, b) => a.position - b.position);
}

function relations(ctx: AuthedContext): Answer {
  const { room, event } = findReadable(ctx.hs, ctx);
  const { relType, eventType } = ctx.params;
  const recurse = ctx.query.get('recurse') === 'true' || ctx.query.get('org.matrix.msc3981.recurse') === 'true';
  const children = related(room, event.event_id, recurse ? MAX_RECURSION : 1).filter(
    (e) => (!relType || relationOf(e)?.rel_type === relType) && (!eventType || e.type === eventType),
  );
  const { dir, from, to, limit } = pageParams(ctx, RELATIONS_DEFAULT_LIMIT);
  const page = paginate(children, dir, from, to, limit);
  return json({
    chunk: page.chunk.map((e) => clientEvent(room, e, viewerOf(ctx))),
    ...(page.next ? { next_batch: page.next } : {}),
    ...(ctx.query.get('from') ? { prev_batch: ctx.query.get('from') } : {}),
    ...(recurse ? { recursion_depth: MAX_RECURSION } : {}),
  });
}

/** Thread roots, the most recently active first. */
function threads(ctx: AuthedContext): Answer {
  const room = visibleRoom(ctx.hs, ctx.params.roomId!, ctx.device.userId);
  const participated = ctx.query.get('include') === 'participated';
  const limit = Math.min(MAX_LIMIT, Number(ctx.query.get('limit') ?? MESSAGES_DEFAULT_LIMIT) || MESSAGES_DEFAULT_LIMIT);
  const from = parseToken(ctx.query.get('from'));
  const roots: Array<{ root: StoredEvent; latest: number }> = [];
  for (const root of readable(room, ctx.device.userId)) {
    const replies = room.relationsOf(root.event_id).filter((e) => !e.redactedBy && relationOf(e)?.rel_type === 'm.thread');
    if (replies.length === 0) continue;
    if (participated && root.sender !== ctx.device.userId && !replies.some((e) => e.sender === ctx.device.userId)) continue;
    roots.push({ root, latest: replies[replies.length - 1]!.position });
  }
  const eligible = roots.filter((r) => from === null || r.latest <= from).sort((a, b) => b.latest - a.latest);
  const chunk = eligible.slice(0, limit);
  const next = eligible.length > chunk.length ? streamToken(chunk[chunk.length - 1]!.latest - 1) : undefined;
  return json({ chunk: chunk.map((r) => clientEvent(room, r.root, viewerOf(ctx))), ...(next ? { next_batch: next } : {}) });
}

export const historyRoutes: Route[] = [
  authed('GET', 'client/v3/rooms/:roomId/event/:eventId', (ctx) => {
    const { room, event } = findReadable(ctx.hs, ctx);
    return json(clientEvent(room, event, viewerOf(ctx)));
  }),
  authed('GET', 'client/v3/rooms/:roomId/messages', messages),
  authed('GET', 'client/v3/rooms/:roomId/context/:eventId', context),
  authed('GET', 'client/v1/rooms/:roomId/relations/:eventId/:relType/:eventType', relations),
  authed('GET', 'client/v1/rooms/:roomId/relations/:eventId/:relType', relations),
  authed('GET', 'client/v1/rooms/:roomId/relations/:eventId', relations),
  authed('GET', 'client/v1/rooms/:roomId/threads', threads),
];
