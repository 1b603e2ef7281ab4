/**
 * Rooms over HTTP: creating, joining, leaving and inviting; sending messages, state and
 * redactions (transaction ids deduplicated per token); members; typing, receipts and read markers.
 */
import { createRoom } from './create-room.js';
import { badJson, forbidden, notFound } from './errors.js';
import type { Homeserver } from './homeserver.js';
import type { Room } from './rooms.js';
import { authed, json, str, type Answer, type AuthedContext, type Route } from './router.js';
import { clientEvent } from './serialize.js';
import type { Json, Membership } from './types.js';

/** A room the caller is (or was) in; others look like they do not exist, as on Synapse. */
export function visibleRoom(hs: Homeserver, roomId: string, userId: string): Room {
  const room = hs.rooms.get(roomId);
  if (!room || !(room.membership(userId) === 'join' || room.everJoined(userId))) throw forbidden(`User ${userId} not in room ${roomId}, and room previews are disabled`);
  return room;
}

function createRoomFromBody(ctx: AuthedContext): string {
  const body = ctx.body as {
    name?: unknown; topic?: unknown; invite?: unknown; is_direct?: unknown; preset?: unknown; visibility?: unknown;
    room_alias_name?: unknown; initial_state?: Array<{ type: string; state_key?: string; content: Json }>;
  };
  const preset = body.preset === 'public_chat' || body.preset === 'private_chat' || body.preset === 'trusted_private_chat' ? body.preset : undefined;
  const invite = Array.isArray(body.invite) ? body.invite.filter((u): u is string => typeof u === 'string') : [];
  return createRoom(ctx.hs, ctx.device.userId, {
    ...(str(body.name) ? { name: str(body.name)! } : {}),
    ...(str(body.topic) ? { topic: str(body.topic)! } : {}),
    ...(str(body.room_alias_name) ? { alias: str(body.room_alias_name)! } : {}),
    ...(preset ? { preset } : {}),
    isPublic: preset === 'public_chat' || (preset === undefined && body.visibility === 'public'),
    isDirect: body.is_direct === true,
    invite,
    initialState: Array.isArray(body.initial_state) ? body.initial_state : [],
  });
}

function sendEvent(ctx: AuthedContext): Answer {
  const eventId = ctx.hs.send(ctx.device, ctx.params.roomId!, { type: ctx.params.eventType!, content: ctx.body }, ctx.params.txnId!);
  return json({ event_id: eventId });
}

function setState(ctx: AuthedContext): Answer {
  const eventId = ctx.hs.send(ctx.device, ctx.params.roomId!, { type: ctx.params.eventType!, stateKey: ctx.params.stateKey ?? '', content: ctx.body });
  return json({ event_id: eventId });
}

function getState(ctx: AuthedContext): Answer {
  const room = visibleRoom(ctx.hs, ctx.params.roomId!, ctx.device.userId);
  const event = room.getState(ctx.params.eventType!, ctx.params.stateKey ?? '');
  if (!event || event.redactedBy) throw notFound('Event not found.');
  return json(event.content);
}

function members(ctx: AuthedContext): Answer {
  const room = visibleRoom(ctx.hs, ctx.params.roomId!, ctx.device.userId);
  const only = ctx.query.get('membership') as Membership | null;
  const not = ctx.query.get('not_membership') as Membership | null;
  const chunk = room
    .currentState()
    .filter((e) => e.type === 'm.room.member' && (!only || e.content.membership === only) && (!not || e.content.membership !== not))
    .map((e) => clientEvent(room, e, { userId: ctx.device.userId, token: ctx.device.token }));
  return json({ chunk });
}

export const roomRoutes: Route[] = [
  authed('POST', 'client/v3/createRoom', (ctx) => json({ room_id: createRoomFromBody(ctx) })),
  authed('POST', 'client/v3/join/:roomIdOrAlias', (ctx) => json({ room_id: ctx.hs.join(ctx.params.roomIdOrAlias!, ctx.device.userId).roomId })),
  authed('POST', 'client/v3/rooms/:roomId/join', (ctx) => json({ room_id: ctx.hs.join(ctx.params.roomId!, ctx.device.userId).roomId })),
  authed('POST', 'client/v3/rooms/:roomId/leave', (ctx) => {
    ctx.hs.leave(ctx.params.roomId!, ctx.device.userId, str(ctx.body.reason));
    return json({});
  }),
  authed('POST', 'client/v3/rooms/:roomId/forget', (ctx) => {
    const membership = ctx.hs.room(ctx.params.roomId!).membership(ctx.device.userId);
    if (membership === 'join' || membership === 'invite') throw badJson('User is still in the room');
    return json({});
  }),
  authed('POST', 'client/v3/rooms/:roomId/invite', (ctx) => {
    const target = str(ctx.body.user_id);
    if (!target) throw badJson('Missing user_id');
    ctx.hs.invite(ctx.params.roomId!, ctx.device.userId, target);
    return json({});
  }),
  authed('GET', 'client/v3/joined_rooms', (ctx) => json({ joined_rooms: [...ctx.hs.rooms.values()].filter((r) => r.membership(ctx.device.userId) === 'join').map((r) => r.roomId) })),
  authed('PUT', 'client/v3/rooms/:roomId/send/:eventType/:txnId', sendEvent),
  authed('PUT', 'client/v3/rooms/:roomId/state/:eventType/:stateKey?', setState),
  authed('GET', 'client/v3/rooms/:roomId/state/:eventType/:stateKey?', getState),
  authed('GET', 'client/v3/rooms/:roomId/state', (ctx) => {
    const room = visibleRoom(ctx.hs, ctx.params.roomId!, ctx.device.userId);
    return json(room.currentState().map((e) => clientEvent(room, e, { userId: ctx.device.userId, token: ctx.device.token })));
  }),
  authed('PUT', 'client/v3/rooms/:roomId/redact/:eventId/:txnId', (ctx) => {
    const reason = str(ctx.body.reason);
    const content = { ...(reason ? { reason } : {}), redacts: ctx.params.eventId! };
    return json({ event_id: ctx.hs.send(ctx.device, ctx.params.roomId!, { type: 'm.room.redaction', content, redacts: ctx.params.eventId! }, ctx.params.txnId!) });
  }),
  authed('GET', 'client/v3/rooms/:roomId/members', members),
  authed('GET', 'client/v3/rooms/:roomId/joined_members', (ctx) => {
    const room = visibleRoom(ctx.hs, ctx.params.roomId!, ctx.device.userId);
    const joined: Json = {};
    for (const userId of room.members('join')) {
      const content = room.getState('m.room.member', userId)!.content;
      joined[userId] = { display_name: content.displayname ?? null, avatar_url: content.avatar_url ?? null };
    }
    return json({ joined });
  }),
  authed('PUT', 'client/v3/rooms/:roomId/typing/:userId', (ctx) => {
    if (ctx.params.userId !== ctx.device.userId) throw forbidden('Cannot set another user\'s typing state');
    const typing = ctx.body.typing === true;
    const timeout = typeof ctx.body.timeout === 'number' ? ctx.body.timeout : null;
    ctx.hs.setTyping(ctx.params.roomId!, ctx.device.userId, typing, timeout);
    return json({});
  }),
  authed('POST', 'client/v3/rooms/:roomId/receipt/:receiptType/:eventId', (ctx) => {
    const type = ctx.params.receiptType!;
    if (!['m.read', 'm.read.private', 'm.fully_read'].includes(type)) throw badJson(`Receipt type ${type} is not supported`);
    const threadId = str(ctx.body.thread_id) ?? null;
    if (type === 'm.fully_read') ctx.hs.setAccountData(ctx.device.userId, ctx.params.roomId!, 'm.fully_read', { event_id: ctx.params.eventId! });
    else ctx.hs.receipt(ctx.params.roomId!, ctx.device.userId, type, ctx.params.eventId!, threadId);
    return json({});
  }),
  authed('POST', 'client/v3/rooms/:roomId/read_markers', (ctx) => {
    const roomId = ctx.params.roomId!;
    const fullyRead = str(ctx.body['m.fully_read']);
    if (fullyRead) ctx.hs.setAccountData(ctx.device.userId, roomId, 'm.fully_read', { event_id: fullyRead });
    for (const type of ['m.read', 'm.read.private']) {
      const eventId = str(ctx.body[type]);
      if (eventId) ctx.hs.receipt(roomId, ctx.device.userId, type, eventId, null);
    }
    return json({});
  }),
];
