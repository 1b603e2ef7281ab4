import { Direction, type MatrixClient, type MatrixEvent, type Room } from 'matrix-js-sdk';
import { errorMessage } from '../../core/errors.js';
import type { ChatEngine } from '../../core/inbound.js';
import type { Logger } from '../../core/log.js';
import { MATRIX } from './inbound.js';

/** catch-up looks at rooms with conversations active in the last two days, at most 200, 50 events each */
const LOOKBACK_MS = 2 * 24 * 60 * 60_000;
const MAX_ROOMS = 200;
const MAX_EVENTS = 50;
const HANDLED_TYPES = new Set(['m.room.message', 'm.room.encrypted', 'm.reaction']);

/**
 * Events addressed to the bot that no sync will deliver again: those an instance received and
 * never finished handling (it was killed; another took Matrix over, or it restarted after its
 * sync position was saved). The recent history of every room with a conversation goes through
 * the normal path, where exactly-once drops what was handled and takes again what a stopped
 * instance left unfinished.
 */
export async function catchUp(
  matrix: MatrixClient,
  engine: ChatEngine,
  options: { botUserId: string; catchUpMinutes: number; log: Logger },
  handle: (event: MatrixEvent, room: Room) => Promise<void>,
): Promise<number> {
  if (options.catchUpMinutes === 0) return 0;
  const since = Date.now() - options.catchUpMinutes * 60_000;
  const places = await engine.activePlaces(MATRIX, new Date(Date.now() - LOOKBACK_MS), MAX_ROOMS);
  const mapEvent = matrix.getEventMapper();
  let seen = 0;
  for (const roomId of new Set(places.map((p) => p.channelId))) {
    const room = matrix.getRoom(roomId);
    if (!room) continue;
    try {
      const { chunk } = await matrix.createMessagesRequest(roomId, null, MAX_EVENTS, Direction.Backward);
      const missed = chunk
        .filter((raw) => raw.origin_server_ts >= since && raw.sender !== options.botUserId && HANDLED_TYPES.has(raw.type))
        .sort((a, b) => a.origin_server_ts - b.origin_server_ts)
        .map((raw) => mapEvent(raw));
      for (const event of missed) {
        seen++;
        await handle(event, room);
      }
    } catch (err) {
      options.log.warn('matrix catch-up skipped a room', { room: roomId, error: errorMessage(err) });
    }
  }
  return seen;
}
