/**
 * `GET /sync`: everything that changed for the user after `since` (everything, for an initial
 * sync), held open up to `timeout` ms while nothing has. Tokens are `s<stream position>`, the
 * same kind `/messages` takes, so `prev_batch` pages back from a timeline's start.
 */
import type { Device } from './accounts.js';
import { MatrixApiError, notFound } from './errors.js';
import type { Homeserver } from './homeserver.js';
import { authed, json, type Route } from './router.js';
import { invitedRoom, joinedRoom, leftRoom, roomWanted, type RoomSyncContext, type SyncFilter } from './sync-rooms.js';
import type { Json } from './types.js';

export interface SyncParams {
  since: number | null;
  filter: SyncFilter;
  fullState: boolean;
  timeoutMs: number;
}

export function parseToken(value: string | null): number | null {
  if (value === null || value === '') return null;
  const match = /^s(\d+)$/.exec(value);
  if (!match) throw new MatrixApiError(400, 'M_INVALID_PARAM', `Invalid stream token ${value}`);
  return Number(match[1]);
}

export const streamToken = (position: number): string => `s${position}`;

/** The `filter` query parameter: inline JSON or the id of an uploaded filter. */
export function parseFilter(hs: Homeserver, userId: string, value: string | null): SyncFilter {
  if (!value) return {};
  if (value.startsWith('{')) {
    try {
      return JSON.parse(value) as SyncFilter;
    } catch {
      throw new MatrixApiError(400, 'M_NOT_JSON', 'filter is not valid JSON');
    }
  }
  const stored = hs.accounts.filter(userId, value);
  if (!stored) throw notFound('No such filter');
  return stored as SyncFilter;
}

export function syncParams(hs: Homeserver, userId: string, query: URLSearchParams): SyncParams {
  const timeout = Number(query.get('timeout') ?? 0);
  return {
    since: parseToken(query.get('since')),
    filter: parseFilter(hs, userId, query.get('filter')),
    fullState: query.get('full_state') === 'true',
    timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : 0,
  };
}

/** One answer, built from the state at this moment; `empty` when nothing is new. */
export function buildSync(hs: Homeserver, device: Device, params: SyncParams): { body: Json; empty: boolean } {
  const position = hs.position;
  const since = params.since === null ? null : Math.min(params.since, position);
  const ctx: RoomSyncContext = { hs, viewer: { userId: device.userId, token: device.token }, since, filter: params.filter, fullState: params.fullState };
  const join: Json = {};
  const invite: Json = {};
  const leave: Json = {};
  for (const room of hs.rooms.values()) {
    if (!roomWanted(params.filter, room.roomId)) continue;
    const memberEvent = room.getState('m.room.member', device.userId);
    const membership = room.membership(device.userId);
    if (!memberEvent || !membership) continue;
    const changed = since === null || memberEvent.position > since;
    if (membership === 'join') {
      const joined = joinedRoom(ctx, room, memberEvent);
      if (joined) join[room.roomId] = joined;
    } else if (membership === 'invite') {
      if (changed) invite[room.roomId] = invitedRoom(room, memberEvent);
    } else if (membership === 'leave' || membership === 'ban') {
      const wanted = since === null ? params.filter.room?.include_leave === true : memberEvent.position > since;
      if (wanted) leave[room.roomId] = leftRoom(ctx, room, memberEvent);
    }
  }
  const accountData = hs.accounts.accountDataSince(device.userId, null, since ?? 0);
  const empty = Object.keys(join).length + Object.keys(invite).length + Object.keys(leave).length + accountData.length === 0;
  const body: Json = {
    next_batch: streamToken(position),
    rooms: { join, invite, leave, knock: {} },
    account_data: { events: accountData },
    presence: { events: [] },
    to_device: { events: [] },
    device_lists: { changed: [], left: [] },
    device_one_time_keys_count: { signed_curve25519: 0 },
    device_unused_fallback_key_types: [],
  };
  return { body, empty };
}

/** Answers at once when something is new, else when something happens or `timeoutMs` passes. */
export async function longPollSync(hs: Homeserver, device: Device, params: SyncParams, signal: AbortSignal): Promise<Json> {
  const deadline = Date.now() + params.timeoutMs;
  for (;;) {
    const { body, empty } = buildSync(hs, device, params);
    const left = deadline - Date.now();
    if (!empty || left <= 0 || signal.aborted || hs.closed) return body;
    await hs.waitForChange(left, signal);
  }
}

export const syncRoutes: Route[] = [
  authed('GET', 'client/v3/sync', async (ctx) => json(await longPollSync(ctx.hs, ctx.device, syncParams(ctx.hs, ctx.device.userId, ctx.query), ctx.signal))),
];
