/**
 * Proves the fake Matrix homeserver against the real matrix-js-sdk 36 client (no end-to-end
 * crypto): startup without unknown routes, live timeline events, sending with relations, invites,
 * transaction ids, tokens, the rate and size limits, encrypted-room markers, and the raw
 * client-server API where the SDK hides the wire (long-poll, filters, paging, media).
 */
import { ClientEvent, createClient, Direction, EventType, HttpApiEvent, MatrixError, MsgType, RelationType, RoomEvent, SyncState, type IStartClientOpts, type MatrixClient, type MatrixEvent, type Room } from 'matrix-js-sdk';
import { logger, type Logger } from 'matrix-js-sdk/lib/logger.js';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../support/wait.js';
import { MAX_EVENT_BYTES, startFakeMatrix, type FakeMatrix, type FakeMatrixOptions, type RegisteredUser } from './matrix/index.js';

// the SDK's global logger (some modules bind it at import, so this quiets only part of it)
logger.setLevel('warn');
// it logs an error for each stripped state event of an invite (state is processed before the room is stored), on Synapse too
(logger.getChild('MatrixRTCSessionManager') as unknown as typeof logger).setLevel('silent');

/** The client's own logger: keeps warnings and errors (expected failures make it complain) instead of printing them. */
function keptLogger(lines: string[] = []): Logger {
  const keep = (...msg: unknown[]): void => void lines.push(msg.map(String).join(' '));
  const quiet = (): void => undefined;
  return { trace: quiet, debug: quiet, info: quiet, warn: keep, error: keep, getChild: () => keptLogger(lines) };
}

const SEND_ROUTE = 'PUT client/v3/rooms/:roomId/send/:eventType/:txnId';
const SYNC_ROUTE = 'GET client/v3/sync';

let mx: FakeMatrix | undefined;
const clients: MatrixClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.stopClient();
  await mx?.close();
  mx = undefined;
  logger.setLevel('warn');
});

interface World {
  mx: FakeMatrix;
  bot: RegisteredUser;
  alice: RegisteredUser;
  /** "general": alice's room the bot is in */
  roomId: string;
}

async function world(options: FakeMatrixOptions = {}): Promise<World> {
  mx = await startFakeMatrix(options);
  const bot = mx.registerUser('bot', { displayName: 'Threadloom' });
  const alice = mx.registerUser('alice', { displayName: 'Alice', password: 'wonderland' });
  const roomId = mx.createRoom(alice.userId, { name: 'general', join: [bot.userId] });
  return { mx, bot, alice, roomId };
}

/** The real SDK as `user`, started and past its first sync. */
async function startClient(fake: FakeMatrix, user: RegisteredUser, options: IStartClientOpts = {}): Promise<{ client: MatrixClient; states: SyncState[] }> {
  const client = createClient({ baseUrl: fake.url, accessToken: user.accessToken, userId: user.userId, deviceId: user.deviceId, logger: keptLogger() });
  clients.push(client);
  const states: SyncState[] = [];
  const syncing = new Promise<void>((resolve, reject) => {
    client.on(ClientEvent.Sync, (state, _prev, data) => {
      states.push(state);
      if (state === SyncState.Syncing) resolve();
      if (state === SyncState.Error) reject(data?.error ?? new Error('sync failed'));
    });
  });
  await client.startClient({ initialSyncLimit: 20, ...options });
  await syncing;
  return { client, states };
}

/** Live timeline events the client hears from now on. */
function liveEvents(client: MatrixClient): MatrixEvent[] {
  const seen: MatrixEvent[] = [];
  client.on(RoomEvent.Timeline, (event, _room, toStart, _removed, data) => {
    if (!toStart && data?.liveEvent !== false) seen.push(event);
  });
  return seen;
}

// wire JSON, read only by assertions
type Body = Record<string, any>;

/** A raw client-server API call. */
async function api(fake: FakeMatrix, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: Body; headers: Headers }> {
  const response = await fetch(`${fake.url}/_matrix/${path}`, {
    method,
    headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Body, headers: response.headers };
}

const enc = encodeURIComponent;
const sendPath = (roomId: string, txnId: string, type = 'm.room.message'): string => `client/v3/rooms/${enc(roomId)}/send/${type}/${txnId}`;
const bodies = (events: readonly { content: Record<string, unknown> }[]): unknown[] => events.map((e) => e.content.body);

describe('startup', () => {
  it('reaches PREPARED then SYNCING, asking only for routes the fake serves', async () => {
    const { mx, bot, alice, roomId } = await world();
    const { client, states } = await startClient(mx, bot);
    expect(states.slice(0, 2)).toEqual([SyncState.Prepared, SyncState.Syncing]);
    await until(() => mx.requestsTo('GET client/v3/capabilities').length === 1);
    expect(new Set(mx.requests.map((r) => r.route))).toEqual(
      new Set(['GET client/versions', 'GET client/v3/pushrules/', 'GET client/v3/capabilities', 'POST client/v3/user/:userId/filter', SYNC_ROUTE]),
    );
    expect(mx.unknownRoutes).toEqual([]);
    const room = client.getRoom(roomId)!;
    expect(room.name).toBe('general');
    expect(room.getMember(alice.userId)?.name).toBe('Alice');
    expect(room.getMyMembership()).toBe('join');
    // the initial sync sends its filter inline; later ones name the uploaded filter and `since`
    const syncs = await until(() => (mx.requestsTo(SYNC_ROUTE).length >= 2 ? mx.requestsTo(SYNC_ROUTE) : undefined));
    const [initial, next] = syncs.map((s) => new URLSearchParams(s.query));
    expect(JSON.parse(initial!.get('filter')!)).toMatchObject({ room: { timeline: { limit: 20 } } });
    expect(initial!.has('since')).toBe(false);
    expect(next!.get('filter')).toMatch(/^\d+$/);
    expect(next!.get('since')).toMatch(/^s\d+$/);
    expect(syncs.every((s) => s.userId === bot.userId)).toBe(true);
  });

  it('answers a wrong or missing token with 401, and the SDK reports the session logged out', async () => {
    const { mx, bot } = await world();
    expect(await api(mx, 'GET', 'client/v3/account/whoami', { token: 'syt_wrong' })).toMatchObject({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN', soft_logout: false } });
    expect(await api(mx, 'GET', 'client/v3/account/whoami')).toMatchObject({ status: 401, body: { errcode: 'M_MISSING_TOKEN' } });
    expect(await api(mx, 'GET', 'client/v3/account/whoami', { token: bot.accessToken })).toMatchObject({ status: 200, body: { user_id: bot.userId, device_id: bot.deviceId } });

    logger.setLevel('silent'); // the SDK's sync logs each 401 with a stack; afterEach turns it back to warn
    const client = createClient({ baseUrl: mx.url, accessToken: 'syt_wrong', userId: bot.userId, deviceId: bot.deviceId, logger: keptLogger() });
    clients.push(client);
    const loggedOut = new Promise<MatrixError>((resolve) => client.on(HttpApiEvent.SessionLoggedOut, resolve));
    await expect(client.whoami()).rejects.toMatchObject({ httpStatus: 401, errcode: 'M_UNKNOWN_TOKEN' });
    expect((await loggedOut).errcode).toBe('M_UNKNOWN_TOKEN');
    await client.startClient();
    // startup stops at the first authenticated request: no sync is ever tried
    await until(() => mx.requestsTo('POST client/v3/user/:userId/filter').some((r) => r.status === 401));
    expect(mx.requestsTo('GET client/v3/pushrules/').map((r) => r.status)).toEqual([401]);
    expect(mx.requestsTo(SYNC_ROUTE)).toEqual([]);
  });
});

describe('timeline', () => {
  it('delivers what a world user says as a live timeline event with its real id', async () => {
    const { mx, bot, alice, roomId } = await world();
    const { client } = await startClient(mx, bot);
    const seen = liveEvents(client);
    const eventId = mx.say(roomId, alice.userId, 'Threadloom: what is 2 + 2?', { mentions: [bot.userId] });
    const event = await until(() => seen.find((e) => e.getId() === eventId));
    expect(event.getSender()).toBe(alice.userId);
    expect(event.getRoomId()).toBe(roomId);
    expect(event.getContent()).toMatchObject({ msgtype: 'm.text', body: 'Threadloom: what is 2 + 2?', 'm.mentions': { user_ids: [bot.userId] } });

    const answered = mx.waitForEvent((e) => e.sender === bot.userId && e.type === 'm.room.message');
    await client.sendTextMessage(roomId, '4');
    expect(await answered).toMatchObject({ room_id: roomId, content: { msgtype: 'm.text', body: '4' }, event_id: expect.stringMatching(/^\$[\w-]{43}$/) });
    expect(mx.unknownRoutes).toEqual([]);
  });

  it('holds a sync with since and timeout open until something happens', async () => {
    const { mx, bot, alice, roomId } = await world();
    const first = await api(mx, 'GET', 'client/v3/sync?timeout=0', { token: bot.accessToken });
    expect(first.body.rooms.join[roomId].timeline.events.map((e: Body) => e.type)).toContain('m.room.create');
    const since = first.body.next_batch as string;
    const quiet = await api(mx, 'GET', `client/v3/sync?timeout=0&since=${since}`, { token: bot.accessToken });
    expect(quiet.body.rooms.join).toEqual({});
    expect(quiet.body.next_batch).toBe(since);

    const waiting = api(mx, 'GET', `client/v3/sync?timeout=10000&since=${since}`, { token: bot.accessToken });
    await until(() => mx.requestsTo(SYNC_ROUTE).length === 3);
    const eventId = mx.say(roomId, alice.userId, 'wake up');
    const woke = await waiting;
    expect(woke.body.rooms.join[roomId].timeline.events).toEqual([expect.objectContaining({ event_id: eventId, sender: alice.userId, content: { msgtype: 'm.text', body: 'wake up' } })]);
    expect(woke.body.rooms.join[roomId].timeline.events[0].room_id).toBeUndefined();
    expect(woke.body.next_batch).not.toBe(since);
  });

  it('honours a filter timeline limit (limited, prev_batch, state before the timeline) and full_state', async () => {
    const { mx, bot, alice, roomId } = await world();
    for (const n of [1, 2, 3, 4, 5]) mx.say(roomId, alice.userId, `message ${n}`);
    const uploaded = await api(mx, 'POST', `client/v3/user/${enc(bot.userId)}/filter`, { token: bot.accessToken, body: { room: { timeline: { limit: 2 } } } });
    const sync = await api(mx, 'GET', `client/v3/sync?filter=${uploaded.body.filter_id}`, { token: bot.accessToken });
    const joined = sync.body.rooms.join[roomId];
    expect(bodies(joined.timeline.events)).toEqual(['message 4', 'message 5']);
    expect(joined.timeline.limited).toBe(true);
    expect(joined.timeline.prev_batch).toMatch(/^s\d+$/);
    expect(joined.state.events.map((e: Body) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.power_levels', 'm.room.name', 'm.room.member']));
    expect(joined.summary).toMatchObject({ 'm.joined_member_count': 2, 'm.heroes': [alice.userId] });

    const full = await api(mx, 'GET', `client/v3/sync?timeout=0&full_state=true&since=${sync.body.next_batch}`, { token: bot.accessToken });
    expect(full.body.rooms.join[roomId].timeline.events).toEqual([]);
    expect(full.body.rooms.join[roomId].state.events.find((e: Body) => e.type === 'm.room.name').content).toEqual({ name: 'general' });
  });
});

describe('sending through the SDK', () => {
  it('stores a message, a threaded reply, an edit and a reaction with their relations', async () => {
    const { mx, bot, alice, roomId } = await world();
    const { client } = await startClient(mx, bot);
    const root = mx.say(roomId, alice.userId, 'Threadloom: tell me a joke', { mentions: [bot.userId] });
    await until(() => client.getRoom(roomId)!.findEventById(root));

    const answer = await client.sendMessage(roomId, root, { msgtype: MsgType.Text, body: 'Why did the…' });
    const edit = await client.sendMessage(roomId, {
      msgtype: MsgType.Text, body: '* Why did the chicken cross the road?',
      'm.new_content': { msgtype: MsgType.Text, body: 'Why did the chicken cross the road?' },
      'm.relates_to': { rel_type: RelationType.Replace, event_id: answer.event_id },
    });
    const reaction = await client.sendEvent(roomId, EventType.Reaction, { 'm.relates_to': { rel_type: RelationType.Annotation, event_id: root, key: '🔁' } });

    const stored = mx.sentBy(bot.userId, roomId);
    expect(stored.map((e) => e.event_id)).toEqual([answer.event_id, edit.event_id, reaction.event_id]);
    expect(stored[0]!.content['m.relates_to']).toMatchObject({ rel_type: 'm.thread', event_id: root, is_falling_back: true });
    expect(stored[1]!.content).toMatchObject({ 'm.relates_to': { rel_type: 'm.replace', event_id: answer.event_id }, 'm.new_content': { body: 'Why did the chicken cross the road?' } });
    expect(stored[2]).toMatchObject({ type: 'm.reaction', content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: root, key: '🔁' } } });
    expect(mx.relations(root, 'm.thread').map((e) => e.event_id)).toEqual([answer.event_id]);
    expect(mx.relations(root, 'm.annotation').map((e) => e.event_id)).toEqual([reaction.event_id]);

    // the bot's own events come back through its sync and settle the local echoes
    const room = client.getRoom(roomId)!;
    for (const id of [answer.event_id, edit.event_id, reaction.event_id]) await until(() => room.findEventById(id)?.status === null);
    // the original carries the edit bundled, as on Synapse
    const original = await client.fetchRoomEvent(roomId, answer.event_id);
    expect(original.unsigned?.['m.relations']?.['m.replace']).toMatchObject({ event_id: edit.event_id, content: { 'm.new_content': { body: 'Why did the chicken cross the road?' } } });
    const thread = await client.relations(roomId, root, 'm.thread');
    expect(thread.events.map((e) => e.getId())).toEqual([answer.event_id]);
    expect(mx.unknownRoutes).toEqual([]);
  });

  it('with threadSupport, builds a thread that exists at startup from its bundled summary and /relations', async () => {
    const { mx, bot, alice, roomId } = await world();
    const root = mx.say(roomId, alice.userId, 'root');
    mx.say(roomId, alice.userId, 'first reply', { thread: root });
    mx.say(roomId, alice.userId, 'second reply', { thread: root });
    const { client } = await startClient(mx, bot, { threadSupport: true });
    const thread = await until(() => client.getRoom(roomId)!.getThread(root));
    // not `thread.length`: that is the bundled summary's count, there before /relations has answered
    await until(() => thread.initialEventsFetched);
    expect(thread.events.map((e) => e.getContent().body)).toEqual(['root', 'first reply', 'second reply']);
    expect(mx.requestsTo('GET client/v1/rooms/:roomId/relations/:eventId').length).toBeGreaterThanOrEqual(1);
    expect(mx.unknownRoutes).toEqual([]);
  });

  it('gives a repeated transaction id the first event id, per access token, and shows transaction_id only to that token', async () => {
    const { mx, bot, roomId } = await world();
    const path = sendPath(roomId, 'txn-1');
    const first = await api(mx, 'PUT', path, { token: bot.accessToken, body: { msgtype: 'm.text', body: 'once' } });
    const again = await api(mx, 'PUT', path, { token: bot.accessToken, body: { msgtype: 'm.text', body: 'once' } });
    expect(first).toMatchObject({ status: 200, body: { event_id: expect.stringMatching(/^\$/) } });
    expect(again.body.event_id).toBe(first.body.event_id);
    expect(bodies(mx.sentBy(bot.userId))).toEqual(['once']);

    const login = await api(mx, 'POST', 'client/v3/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bot' }, password: 'bot' } });
    const otherDevice = await api(mx, 'PUT', path, { token: login.body.access_token, body: { msgtype: 'm.text', body: 'once' } });
    expect(otherDevice.body.event_id).not.toBe(first.body.event_id);
    expect(mx.sentBy(bot.userId)).toHaveLength(2);

    const eventPath = `client/v3/rooms/${enc(roomId)}/event/${enc(first.body.event_id)}`;
    expect((await api(mx, 'GET', eventPath, { token: bot.accessToken })).body.unsigned.transaction_id).toBe('txn-1');
    expect((await api(mx, 'GET', eventPath, { token: login.body.access_token })).body.unsigned.transaction_id).toBeUndefined();
  });

  it('refuses an event over 65,536 bytes with 413 M_TOO_LARGE, which the SDK does not retry', async () => {
    const { mx, bot, roomId } = await world();
    const { client } = await startClient(mx, bot);
    const fits = await client.sendTextMessage(roomId, 'x'.repeat(MAX_EVENT_BYTES - 1_000));
    expect(mx.event(fits.event_id)).toBeDefined();
    const error = await client.sendTextMessage(roomId, 'x'.repeat(MAX_EVENT_BYTES)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MatrixError);
    expect(error).toMatchObject({ httpStatus: 413, errcode: 'M_TOO_LARGE' });
    expect(mx.requestsTo(SEND_ROUTE).map((r) => r.status)).toEqual([200, 413]);
    expect(mx.sentBy(bot.userId)).toHaveLength(1);
  });

  it('refuses the same reaction twice with M_DUPLICATE_ANNOTATION', async () => {
    const { mx, bot, alice, roomId } = await world();
    const target = mx.say(roomId, alice.userId, 'react to me');
    const content = { 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key: '👍' } };
    expect((await api(mx, 'PUT', sendPath(roomId, 'r1', 'm.reaction'), { token: bot.accessToken, body: content })).status).toBe(200);
    expect(await api(mx, 'PUT', sendPath(roomId, 'r2', 'm.reaction'), { token: bot.accessToken, body: content })).toMatchObject({ status: 400, body: { errcode: 'M_DUPLICATE_ANNOTATION' } });
    expect(mx.relations(target, 'm.annotation')).toHaveLength(1);
  });
});

describe('rate limit', () => {
  it('is off unless asked for', async () => {
    const { mx, bot, roomId } = await world();
    for (let i = 0; i < 25; i++) expect((await api(mx, 'PUT', sendPath(roomId, `t${i}`), { token: bot.accessToken, body: { msgtype: 'm.text', body: `${i}` } })).status).toBe(200);
    expect(mx.rateLimited).toBe(0);
  });

  it('answers sends past the burst with 429 M_LIMIT_EXCEEDED, retry_after_ms and Retry-After, and counts them', async () => {
    // a clock that stands still: no token comes back between the sends, however slow the machine
    const { mx, bot, alice, roomId } = await world({ rateLimit: { burst: 3, perSecond: 2 }, now: () => 0 });
    const statuses: number[] = [];
    let refused: { body: Body; headers: Headers } | undefined;
    for (let i = 0; i < 4; i++) {
      const answer = await api(mx, 'PUT', sendPath(roomId, `t${i}`), { token: bot.accessToken, body: { msgtype: 'm.text', body: `${i}` } });
      statuses.push(answer.status);
      if (answer.status === 429) refused = answer;
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(refused!.body).toMatchObject({ errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: expect.any(Number) });
    expect(refused!.body.retry_after_ms).toBe(500);
    expect(refused!.headers.get('retry-after')).toBe('1');
    expect(mx.rateLimited).toBe(1);
    expect(mx.refusals[0]).toMatchObject({ userId: bot.userId });
    // per user: alice still has her burst
    expect((await api(mx, 'PUT', sendPath(roomId, 'a0'), { token: alice.accessToken, body: { msgtype: 'm.text', body: 'hi' } })).status).toBe(200);
    expect(bodies(mx.sentBy(bot.userId))).toEqual(['0', '1', '2']);
  });

  it("the SDK's scheduler waits out a 429 and resends queued messages with the same txnId; a state event sees the error", async () => {
    // the clock stands still until the first 429, so the third send is refused however slow the machine; then it jumps past the wait
    let fake: FakeMatrix | undefined;
    const { mx, bot } = await world({ rateLimit: { burst: 2, perSecond: 5 }, now: () => ((fake?.rateLimited ?? 0) > 0 ? 10_000 : 0) });
    fake = mx;
    const roomId = mx.createRoom(bot.userId, { name: "the bot's room" });
    const { client } = await startClient(mx, bot);
    const sent = await Promise.all(['one', 'two', 'three'].map((text) => client.sendTextMessage(roomId, text)));
    expect(mx.rateLimited).toBeGreaterThanOrEqual(1);
    expect(bodies(mx.sentBy(bot.userId))).toEqual(['one', 'two', 'three']);
    expect(mx.sentBy(bot.userId).map((e) => e.event_id)).toEqual(sent.map((s) => s.event_id));
    const sends = mx.requestsTo(SEND_ROUTE);
    const refused = sends.filter((r) => r.status === 429);
    expect(refused.length).toBe(mx.rateLimited);
    // the retry reuses the refused request's path, so a transaction id it shares cannot double-send
    for (const r of refused) expect(sends.some((s) => s.path === r.path && s.status === 200 && s.at >= r.at)).toBe(true);

    mx.setRateLimit({ burst: 1, perSecond: 0.001 });
    await client.sendTextMessage(roomId, 'takes the last token');
    const error = await client.sendStateEvent(roomId, EventType.RoomTopic, { topic: 'limited' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ httpStatus: 429, errcode: 'M_LIMIT_EXCEEDED', data: { retry_after_ms: expect.any(Number) } });
  });
});

describe('invites', () => {
  it('an invite arrives with stripped state and is_direct; joinRoom brings the whole room', async () => {
    const { mx, bot, alice } = await world();
    const { client } = await startClient(mx, bot);
    const invited = new Promise<Room>((resolve) => client.on(RoomEvent.MyMembership, (room, membership) => membership === 'invite' && resolve(room)));
    const dm = mx.createRoom(alice.userId, { name: 'Alice and the bot', isDirect: true, invite: [bot.userId] });
    const room = await invited;
    expect(room.roomId).toBe(dm);
    expect(room.name).toBe('Alice and the bot');
    const invite = room.getMember(bot.userId)!.events.member!;
    expect(invite.getSender()).toBe(alice.userId);
    expect(invite.getContent()).toMatchObject({ membership: 'invite', is_direct: true });
    expect(room.getDMInviter()).toBe(alice.userId);
    expect(room.currentState.getStateEvents('m.room.power_levels', '')).toBeNull();

    await client.joinRoom(dm);
    await until(() => room.getMyMembership() === 'join' && room.currentState.getStateEvents('m.room.power_levels', ''));
    expect(mx.membership(dm, bot.userId)).toBe('join');
    expect(room.getJoinedMemberCount()).toBe(2);
    expect(mx.unknownRoutes).toEqual([]);
  });

  it('declining an invite leaves the room', async () => {
    const { mx, bot, alice } = await world();
    const { client } = await startClient(mx, bot);
    const roomId = mx.createRoom(alice.userId, { name: 'spam', invite: [bot.userId] });
    await until(() => client.getRoom(roomId)?.getMyMembership() === 'invite');
    await client.leave(roomId);
    await until(() => client.getRoom(roomId)?.getMyMembership() === 'leave');
    expect(mx.membership(roomId, bot.userId)).toBe('leave');
    expect(mx.events(roomId).at(-1)).toMatchObject({ type: 'm.room.member', state_key: bot.userId, sender: bot.userId, content: { membership: 'leave' } });
  });
});

describe('encrypted rooms', () => {
  it('the SDK sees the encryption state and an m.room.encrypted event it cannot read', async () => {
    const { mx, bot, alice } = await world();
    const roomId = mx.createRoom(alice.userId, { name: 'secret', encrypted: true, join: [bot.userId] });
    const { client } = await startClient(mx, bot);
    const seen = liveEvents(client);
    expect(client.getRoom(roomId)!.hasEncryptionStateEvent()).toBe(true);
    const eventId = mx.sendEncrypted(roomId, alice.userId);
    const event = await until(() => seen.find((e) => e.getId() === eventId));
    expect(event.getType()).toBe('m.room.encrypted');
    expect(event.isEncrypted()).toBe(true);
    expect(event.getWireContent()).toMatchObject({ algorithm: 'm.megolm.v1.aes-sha2', ciphertext: expect.any(String), session_id: expect.any(String) });
    // without crypto the SDK neither decrypts nor marks a failure: the event stays as it came
    await client.decryptEventIfNeeded(event);
    expect(event.isDecryptionFailure()).toBe(false);
    expect(event.getType()).toBe('m.room.encrypted');
    // and it refuses to send in plaintext before any request
    await expect(client.sendTextMessage(roomId, 'hello')).rejects.toThrow(/does not support encryption/);
    expect(mx.requestsTo(SEND_ROUTE)).toEqual([]);
  });
});

describe('other routes', () => {
  it('records typing, receipts and read markers, and counts unread messages until a receipt', async () => {
    const { mx, bot, alice, roomId } = await world();
    mx.say(roomId, alice.userId, 'one');
    const last = mx.say(roomId, alice.userId, 'two', { mentions: [bot.userId] });
    const first = await api(mx, 'GET', 'client/v3/sync', { token: bot.accessToken });
    expect(first.body.rooms.join[roomId].unread_notifications).toEqual({ notification_count: 2, highlight_count: 1 });

    const { client } = await startClient(mx, bot);
    await client.sendTyping(roomId, true, 20_000);
    expect(mx.typing).toEqual([expect.objectContaining({ roomId, userId: bot.userId, typing: true, timeoutMs: 20_000 })]);
    const lastEvent = await until(() => client.getRoom(roomId)!.findEventById(last));
    await client.sendReadReceipt(lastEvent);
    expect(mx.receipts).toEqual([expect.objectContaining({ roomId, userId: bot.userId, receiptType: 'm.read', eventId: last })]);
    await client.setRoomReadMarkers(roomId, last);
    expect(mx.accountData(bot.userId, 'm.fully_read', roomId)).toEqual({ event_id: last });

    const after = await api(mx, 'GET', `client/v3/sync?timeout=0&since=${first.body.next_batch}`, { token: bot.accessToken });
    const joined = after.body.rooms.join[roomId];
    expect(joined.unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    expect(joined.ephemeral.events).toEqual(expect.arrayContaining([{ type: 'm.typing', content: { user_ids: [bot.userId] } }, expect.objectContaining({ type: 'm.receipt' })]));
  });

  it('pages history with /messages and relations', async () => {
    const { mx, bot, alice, roomId } = await world();
    for (let n = 1; n <= 12; n++) mx.say(roomId, alice.userId, `m${n}`);
    const root = mx.say(roomId, alice.userId, 'root');
    for (let n = 1; n <= 7; n++) mx.say(roomId, alice.userId, `r${n}`, { thread: root });
    const { client } = await startClient(mx, bot, { initialSyncLimit: 1 });

    const page1 = await client.createMessagesRequest(roomId, null, 5, Direction.Backward);
    expect(bodies(page1.chunk)).toEqual(['r7', 'r6', 'r5', 'r4', 'r3']);
    const page2 = await client.createMessagesRequest(roomId, page1.end!, 5, Direction.Backward);
    expect(bodies(page2.chunk)).toEqual(['r2', 'r1', 'root', 'm12', 'm11']);

    const newest = await client.relations(roomId, root, 'm.thread', null, { limit: 4 });
    expect(newest.events.map((e) => e.getContent().body)).toEqual(['r7', 'r6', 'r5', 'r4']);
    const rest = await client.relations(roomId, root, 'm.thread', null, { limit: 4, from: newest.nextBatch! });
    expect(rest.events.map((e) => e.getContent().body)).toEqual(['r3', 'r2', 'r1']);
    expect(rest.nextBatch ?? null).toBeNull();
    // Element-style fallback: each reply points at the thread's newest event before it
    expect(mx.event(mx.relations(root, 'm.thread')[1]!.event_id)!.content['m.relates_to']).toMatchObject({ 'm.in_reply_to': { event_id: mx.relations(root, 'm.thread')[0]!.event_id } });
    expect(mx.unknownRoutes).toEqual([]);
  });

  it('logs in with a password, and uploads and downloads media with the token', async () => {
    const { mx, alice } = await world();
    const anonymous = createClient({ baseUrl: mx.url });
    await expect(anonymous.loginWithPassword(alice.userId, 'wrong')).rejects.toMatchObject({ httpStatus: 403, errcode: 'M_FORBIDDEN' });
    const session = await anonymous.loginWithPassword('alice', 'wonderland');
    expect(session).toMatchObject({ user_id: alice.userId, access_token: expect.stringMatching(/^syt_/), device_id: expect.any(String) });

    const client = createClient({ baseUrl: mx.url, accessToken: session.access_token, userId: alice.userId, deviceId: session.device_id });
    const { content_uri: mxc } = await client.uploadContent(Buffer.from('# notes\n'), { name: 'notes.md', type: 'text/markdown' });
    expect(mx.media(mxc)).toMatchObject({ contentType: 'text/markdown', filename: 'notes.md', uploader: alice.userId });
    const download = `${mx.url}/_matrix/client/v1/media/download/${mxc.slice('mxc://'.length)}`;
    const withToken = await fetch(download, { headers: { authorization: `Bearer ${session.access_token}` } });
    expect(withToken.headers.get('content-type')).toBe('text/markdown');
    expect(await withToken.text()).toBe('# notes\n');
    expect((await fetch(download)).status).toBe(401);
  });

  it('answers unknown routes with 404 M_UNRECOGNIZED and records them', async () => {
    const { mx, bot } = await world();
    expect(await api(mx, 'GET', 'client/v3/room_keys/version', { token: bot.accessToken })).toMatchObject({ status: 404, body: { errcode: 'M_UNRECOGNIZED' } });
    expect(await api(mx, 'DELETE', 'client/v3/account/whoami', { token: bot.accessToken })).toMatchObject({ status: 405, body: { errcode: 'M_UNRECOGNIZED' } });
    expect(mx.unknownRoutes).toEqual([
      { method: 'GET', path: '/_matrix/client/v3/room_keys/version' },
      { method: 'DELETE', path: '/_matrix/client/v3/account/whoami' },
    ]);
  });
});
