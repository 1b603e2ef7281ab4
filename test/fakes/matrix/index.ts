/**
 * A fake Matrix homeserver (client-server API) that the real matrix-js-sdk 36 client syncs
 * against without end-to-end encryption:
 *
 * ```ts
 * const mx = await startFakeMatrix();
 * const bot = mx.registerUser('bot', { displayName: 'Threadloom' });
 * const alice = mx.registerUser('alice');
 * const roomId = mx.createRoom(alice.userId, { name: 'general', invite: [bot.userId] });
 * const client = createClient({ baseUrl: mx.url, ...bot });       // accessToken, userId, deviceId
 * await client.startClient();                                      // invite arrives in rooms.invite
 * await client.joinRoom(roomId);
 * const asked = mx.say(roomId, alice.userId, 'Threadloom: hi', { mentions: [bot.userId] });
 * const answer = await mx.waitForEvent((e) => e.sender === bot.userId && e.type === 'm.room.message');
 * expect(mx.unknownRoutes).toEqual([]);
 * client.stopClient(); await mx.close();
 * ```
 *
 * What it keeps like Synapse: `$…` event ids and `!…:localhost` rooms; the sender's own events
 * come back in its /sync with `unsigned.transaction_id`; a repeated transaction id (same token)
 * returns the first event id; bundled `m.thread`/`m.replace` aggregations; invites with stripped
 * state (`is_direct` on the member event for DMs); `M_DUPLICATE_ANNOTATION` for a repeated
 * reaction; 413 `M_TOO_LARGE` over 65,536 bytes of event JSON; an optional per-user send limit
 * (429 `M_LIMIT_EXCEEDED`, `retry_after_ms` plus `Retry-After`). Unknown routes answer 404
 * `M_UNRECOGNIZED` and are listed in `unknownRoutes`. No federation, no crypto (the key routes
 * answer empty), no presence, the default push rules only.
 */
import { FakeMatrix } from './fake.js';
import type { FakeMatrixOptions } from './types.js';

export { FakeMatrix } from './fake.js';
export { DEFAULT_RATE_LIMIT, MAX_EVENT_BYTES, type Refusal } from './limits.js';
export { MEGOLM, ROOM_VERSION } from './create-room.js';
export type * from './types.js';

export async function startFakeMatrix(options: FakeMatrixOptions = {}): Promise<FakeMatrix> {
  return new FakeMatrix(options).listen();
}
