import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMatrixAdapter, type MatrixAdapter } from '../../src/bots/matrix/index.js';
import type { Config } from '../../src/core/config.js';
import { startFakeMatrix, type FakeMatrix, type StoredEvent } from '../fakes/matrix/index.js';
import { startAdapter, stopAdapter } from '../../src/core/runtime.js';
import { adapterContext, startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { PATIENT_ROUTING, until } from '../support/wait.js';

// The Matrix adapter over the real matrix-js-sdk against a fake client-server API, without
// end-to-end crypto (the real-homeserver suite in test/matrix covers encryption).

let mx: FakeMatrix;
let rt: TestRuntime;
let adapter: MatrixAdapter;
let bot: { userId: string; accessToken: string; deviceId: string };
let alice: { userId: string };

async function startBot(settings: (m: Config['matrix']) => Config['matrix'] = (m) => m): Promise<void> {
  rt = await startTestRuntime({
    config: (c) => ({
      ...c,
      routing: { ...c.routing, ...PATIENT_ROUTING },
      limits: { ...c.limits, userTurnsPerMinute: 600 },
      matrix: settings({ ...c.matrix, homeserverURL: mx.url, accessToken: bot.accessToken, deviceId: bot.deviceId, storeKey: 'a fast-test store key' }),
    }),
  });
  adapter = createMatrixAdapter(adapterContext(rt), { encryption: false });
  await startAdapter(rt.engine, adapter);
}

beforeEach(async () => {
  mx = await startFakeMatrix();
  bot = mx.registerUser('threadloom', { displayName: 'Threadloom' });
  alice = mx.registerUser('alice', { displayName: 'Alice' });
});

afterEach(async () => {
  if (adapter) await stopAdapter(rt.engine, adapter);
  await rt?.shutdown();
  await mx.close();
});

const fromBot = (roomId: string): StoredEvent[] => mx.events(roomId).filter((e) => e.sender === bot.userId);
const relation = (e: StoredEvent) => ((e.content as Record<string, unknown>)['m.relates_to'] ?? {}) as { rel_type?: string; event_id?: string; key?: string };
/** the text an answer shows now: its latest m.replace, else its own body */
function shown(roomId: string, answerId: string): string {
  const edits = fromBot(roomId).filter((e) => relation(e).rel_type === 'm.replace' && relation(e).event_id === answerId);
  const last = edits.at(-1);
  return last ? String((last.content as { 'm.new_content': { body: string } })['m.new_content'].body) : String((mx.event(answerId)!.content as { body: string }).body);
}

/** a room of alice, the bot and a third person (a DM has only two) */
function groupRoom(options: { encrypted?: boolean } = {}): string {
  const carol = mx.registerUser(`carol${Math.random().toString(36).slice(2, 7)}`);
  return mx.createRoom(alice.userId, { name: 'ops', invite: [bot.userId], join: [carol.userId], encrypted: options.encrypted });
}

describe('Matrix adapter (fake homeserver)', () => {
  it('joins when invited, answers a mention in a thread it roots at the question, and streams by edits at most about once a second', async () => {
    await startBot();
    const roomId = groupRoom();
    await until(() => mx.membership(roomId, bot.userId) === 'join');
    rt.openai.script({ answer: 'Check `journalctl -u nginx` first, then the config with `nginx -t`.', delayMs: 150, chunkSize: 4 });
    const question = mx.say(roomId, alice.userId, 'Threadloom: nginx will not start', { mentions: [bot.userId] });
    const answer = await mx.waitForEvent((e) => e.sender === bot.userId && e.type === 'm.room.message' && relation(e).rel_type === 'm.thread');
    expect(relation(answer).event_id).toBe(question);
    await until(() => shown(roomId, answer.event_id).includes('nginx -t'));
    const edits = fromBot(roomId).filter((e) => relation(e).rel_type === 'm.replace');
    expect(edits.length).toBeGreaterThan(0);
    const times = [answer, ...edits].map((e) => e.origin_server_ts);
    // about one edit a second while streaming, plus the final one when the answer ends (a slow
    // machine makes fewer edits, never more)
    expect(times.length).toBeGreaterThanOrEqual(3);
    expect(times.length).toBeLessThanOrEqual(Math.ceil((times.at(-1)! - times[0]!) / 1000) + 2);
    // the model got the question without the mention, and the answer is HTML too
    expect(rt.openai.chatRequests()[0]!.body.messages.at(-1)).toEqual({ role: 'user', content: 'nginx will not start' });
    expect((edits.at(-1)!.content as { 'm.new_content': { formatted_body: string } })['m.new_content'].formatted_body).toContain('<code>nginx -t</code>');
    expect(mx.unknownRoutes).toEqual([]);
  });

  it('declines invites from people outside the allowlist and accepts those inside', async () => {
    await startBot((m) => ({ ...m, allow: { users: [], servers: [], rooms: [] } }));
    await adapter.stop();
    await rt.shutdown();
    const mallory = mx.registerUser('mallory');
    await startBot((m) => ({ ...m, allow: { users: [alice.userId], servers: [], rooms: [] } }));
    const fromMallory = mx.createRoom(mallory.userId, { invite: [bot.userId] });
    const fromAlice = mx.createRoom(alice.userId, { invite: [bot.userId] });
    await until(() => mx.membership(fromAlice, bot.userId) === 'join');
    await until(() => mx.membership(fromMallory, bot.userId) === 'leave');
  });

  it('stops an answer still streaming when someone reacts ⏹ to it', async () => {
    await startBot();
    const roomId = groupRoom();
    await until(() => mx.membership(roomId, bot.userId) === 'join');
    rt.openai.script({ answer: 'word '.repeat(300), delayMs: 40, chunkSize: 5 });
    const question = mx.say(roomId, alice.userId, 'Threadloom: talk for a long time', { mentions: [bot.userId] });
    const answer = await mx.waitForEvent((e) => e.sender === bot.userId && relation(e).event_id === question);
    mx.react(roomId, alice.userId, answer.event_id, '⏹️');
    await until(() => shown(roomId, answer.event_id).includes('Stopped'));
    const saved = await rt.deps.db.selectFrom('messages').selectAll().where('role', '=', 'assistant').executeTakeFirstOrThrow();
    expect(saved.content.length).toBeLessThan('word '.repeat(300).length);
  });

  it('when the homeserver rate-limits its edits, waits as told and still ends with the whole answer', async () => {
    await startBot();
    mx.setRateLimit({ burst: 2, perSecond: 0.5 });
    const roomId = groupRoom();
    await until(() => mx.membership(roomId, bot.userId) === 'join');
    const long = 'word '.repeat(120).trim() + ' END';
    rt.openai.script({ answer: long, delayMs: 60, chunkSize: 10 });
    const question = mx.say(roomId, alice.userId, '!tl tell me something long');
    await until(() => fromBot(roomId).some((e) => relation(e).event_id === question) && shown(roomId, fromBot(roomId).find((e) => relation(e).event_id === question)!.event_id).includes('END'), 30_000);
    expect(mx.rateLimited).toBeGreaterThan(0);
  }, 40_000);

  it('with answerEverywhere off, ignores even mentions in a room not bound to an Experience, but runs commands', async () => {
    await startBot((m) => ({ ...m, answerEverywhere: false }));
    const roomId = groupRoom();
    await until(() => mx.membership(roomId, bot.userId) === 'join');
    mx.say(roomId, alice.userId, 'just chatting about the release');
    mx.say(roomId, alice.userId, 'hey', { mentions: [bot.userId] });
    mx.say(roomId, alice.userId, '!tl help');
    await mx.waitForEvent((e) => e.sender === bot.userId && /Threadloom commands/.test(String((e.content as { body?: string }).body)));
    expect(rt.openai.chatRequests()).toHaveLength(0);
  });

  it('`!tl search` in a shared room searches only that room; in a DM, every room the asker has joined, never others', async () => {
    await startBot();
    const ops = groupRoom();
    const bob = mx.registerUser('bob');
    const secret = mx.createRoom(bob.userId, { name: 'secret', invite: [bot.userId], join: [mx.registerUser('dave').userId] });
    const dm = mx.createRoom(alice.userId, { invite: [bot.userId] });
    await until(() => [ops, secret, dm].every((room) => mx.membership(room, bot.userId) === 'join'));
    const homelab = (await rt.deps.experiences.defaultExperience()).id;
    for (const [room, title] of [[ops, 'Ceph in ops'], [secret, 'Ceph in secret']] as const) {
      const conversation = await rt.deps.conversations.create({ platform: 'matrix', channelId: room, threadId: `$root-${title.length}-${room}` }, homelab, bob.userId);
      await rt.deps.conversations.update(conversation.id, { title });
      await rt.deps.conversations.append(conversation.id, { role: 'user', content: 'the ceph cluster is rebalancing again', authorId: bob.userId });
    }
    const said = (room: string) => fromBot(room).map((e) => String((e.content as { body?: string }).body ?? ''));

    mx.say(ops, alice.userId, '!tl search all ceph rebalancing');
    const inRoom = await until(() => said(ops).find((b) => b.includes('Ceph in ops')));
    expect(inRoom).not.toContain('Ceph in secret');
    expect(inRoom).toContain('Only this channel was searched');

    mx.say(dm, alice.userId, '!tl search all ceph rebalancing');
    const inDm = await until(() => said(dm).find((b) => b.includes('Ceph in ops')));
    expect(inDm).not.toContain('Ceph in secret');
    expect(inDm).toContain(`https://matrix.to/#/${encodeURIComponent(ops)}/`);
    expect(inDm).not.toContain('Only this channel');
  });
});
