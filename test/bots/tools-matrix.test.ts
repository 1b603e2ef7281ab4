import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createMatrixAdapter, type MatrixAdapter } from '../../src/bots/matrix/index.js';
import type { Config } from '../../src/core/config.js';
import { startFakeMatrix, type FakeMatrix, type StoredEvent } from '../fakes/matrix/index.js';
import { startAdapter, stopAdapter } from '../../src/core/runtime.js';
import { adapterContext, startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { SCRIPTS, storedToolResults, withHomelab, type Homelab } from '../support/tools.js';
import { PATIENT_ROUTING, answerRequests, until } from '../support/wait.js';
import { SYNAPSE_SHARED_SECRET, SYNAPSE_URL } from '../matrix/homeserver.js';
import { registerUser } from '../matrix/register.js';
import { startUserClient, type SeenEvent, type UserClient } from '../matrix/user-client.js';

// Tool calls over the real matrix-js-sdk, against the fake homeserver (and one case against a real
// Synapse when SYNAPSE_URL is set, see test/matrix/README.md): approvals are reactions
// (✅ / ❌) on the request, or `!tl approve` / `!tl deny` typed in the conversation's thread.

let mx: FakeMatrix;
let rt: TestRuntime;
let adapter: MatrixAdapter;
let bot: { userId: string; accessToken: string; deviceId: string };
let alice: { userId: string };
let bob: { userId: string };
let roomId: string;

/** The engine in this process with the Matrix adapter (real matrix-js-sdk, no crypto) logged in as `as`. */
async function startBot(homeserverURL: string, as: { accessToken: string; deviceId: string }): Promise<void> {
  rt = await startTestRuntime({
    config: (c: Config) => ({
      ...c,
      routing: { ...c.routing, ...PATIENT_ROUTING },
      limits: { ...c.limits, userTurnsPerMinute: 600 },
      matrix: { ...c.matrix, homeserverURL, accessToken: as.accessToken, deviceId: as.deviceId, storeKey: 'a fast-test store key' },
    }),
  });
  adapter = createMatrixAdapter(adapterContext(rt), { encryption: false });
  await startAdapter(rt.engine, adapter);
}

const relation = (e: StoredEvent) => ((e.content as Record<string, unknown>)['m.relates_to'] ?? {}) as { rel_type?: string; event_id?: string; key?: string };
const fromBot = (): StoredEvent[] => mx.events(roomId).filter((e) => e.sender === bot.userId);
const body = (e: StoredEvent): string => String((e.content as { body?: string }).body ?? '');
/** the text a message of the bot shows now: its latest m.replace, else its own body */
function shown(eventId: string): string {
  const last = fromBot().filter((e) => relation(e).rel_type === 'm.replace' && relation(e).event_id === eventId).at(-1);
  return last ? String((last.content as { 'm.new_content': { body: string } })['m.new_content'].body) : body(mx.event(eventId)!);
}
const botSaid = (text: string) => fromBot().filter((e) => e.type === 'm.room.message' && relation(e).rel_type !== 'm.replace').find((e) => shown(e.event_id).includes(text));

/** alice asks the bot; resolves to the question's event id (the thread's root) */
function ask(question: string): string {
  return mx.say(roomId, alice.userId, `Threadloom: ${question}`, { mentions: [bot.userId] });
}

async function approvalRequest(): Promise<StoredEvent> {
  const request = await until(() => botSaid('wants to run'));
  // the bot hints the answers as its own reactions on the request
  await until(() => fromBot().filter((e) => e.type === 'm.reaction' && relation(e).event_id === request.event_id).length === 2);
  return request;
}

const hints = (eventId: string): string[] => fromBot().filter((e) => e.type === 'm.reaction' && relation(e).event_id === eventId && !e.redactedBy).map((e) => relation(e).key!);

describe('tools on Matrix (fake homeserver)', () => {
  let homelab: Homelab;

  beforeEach(async () => {
    mx = await startFakeMatrix();
    bot = mx.registerUser('threadloom', { displayName: 'Threadloom' });
    alice = mx.registerUser('alice', { displayName: 'Alice' });
    bob = mx.registerUser('bob', { displayName: 'Bob' });
    rt = await startTestRuntime({
      config: (c) => ({
        ...c,
        routing: { ...c.routing, ...PATIENT_ROUTING },
        limits: { ...c.limits, userTurnsPerMinute: 600 },
        matrix: { ...c.matrix, homeserverURL: mx.url, accessToken: bot.accessToken, deviceId: bot.deviceId, storeKey: 'a fast-test store key' },
      }),
    });
    adapter = createMatrixAdapter(adapterContext(rt), { encryption: false });
    await startAdapter(rt.engine, adapter);
    // alice created the room (power 100); bob is a plain member
    roomId = mx.createRoom(alice.userId, { name: 'ops', invite: [bot.userId], join: [bob.userId] });
    await until(() => mx.membership(roomId, bot.userId) === 'join');
  });

  afterEach(async () => {
    await stopAdapter(rt.engine, adapter);
    await rt.shutdown();
    await mx.close();
  });


  it('should answer through a read-only tool and end the answer with the tools it used', async () => {
    homelab = await withHomelab(rt);
    rt.openai.script(...SCRIPTS.list);
    ask('which machines are down?');
    const answer = await until(() => botSaid('proxmox is down'));
    await until(() => shown(answer.event_id).includes('🔧 homelab › list_machines'));
    expect(homelab.calls).toHaveLength(1);
  });

  it('should run a confirm tool once the asker reacts ✅, not taking the bot\'s own hint reactions as an answer', async () => {
    homelab = await withHomelab(rt, { approvalTimeoutMs: 10_000 });
    rt.openai.script(...SCRIPTS.reboot);
    const question = ask('reboot proxmox');
    const request = await approvalRequest();
    expect(relation(request)).toMatchObject({ rel_type: 'm.thread', event_id: question });
    expect(body(request)).toContain('homelab › reboot_machine');
    expect(body(request)).toContain('"name": "proxmox"');
    expect(hints(request.event_id)).toEqual(['✅', '❌']);
    // the bot's ✅ is there, yet nothing ran: only a person's answer counts
    await new Promise((r) => setTimeout(r, 300));
    expect(homelab.calls).toHaveLength(0);
    expect(shown(request.event_id)).not.toContain('Approved');

    mx.react(roomId, alice.userId, request.event_id, '✅');
    await until(() => botSaid('Done with proxmox.'));
    expect(homelab.calls).toEqual([{ tool: 'reboot_machine', args: { name: 'proxmox' }, user: alice.userId }]);
    expect(shown(request.event_id)).toContain('✅ Approved by Alice');
    // decided: the hints go, as buttons do on other platforms
    await until(() => hints(request.event_id).length === 0);
  });

  it('should take `!tl approve` typed in the thread', async () => {
    homelab = await withHomelab(rt, { approvalTimeoutMs: 10_000 });
    rt.openai.script(...SCRIPTS.reboot);
    const question = ask('reboot proxmox');
    await approvalRequest();
    mx.say(roomId, alice.userId, '!tl approve', { thread: question });
    await until(() => botSaid('Done with proxmox.'));
    expect(homelab.calls).toHaveLength(1);
  });

  it('should refuse another user\'s ✅ and `!tl approve`, telling them, and not run the tool; the asker\'s `!tl deny` then denies', async () => {
    homelab = await withHomelab(rt, { approvalTimeoutMs: 10_000 });
    rt.openai.script(...SCRIPTS.reboot);
    const question = ask('reboot proxmox');
    const request = await approvalRequest();
    mx.react(roomId, bob.userId, request.event_id, '✅');
    await until(() => botSaid('Only Alice (who asked)'));
    mx.say(roomId, bob.userId, '!tl approve', { thread: question });
    await until(() => fromBot().filter((e) => body(e).includes('Only Alice (who asked)')).length === 2);
    expect(homelab.calls).toHaveLength(0);

    mx.say(roomId, alice.userId, '!tl deny', { thread: question });
    await until(() => shown(request.event_id).includes('❌ Denied by Alice'));
    await until(() => botSaid('Done with proxmox.'));
    expect(homelab.calls).toHaveLength(0);
    expect((await storedToolResults(rt))[0]!.content).toContain('Alice denied it');
  });

  it('should deny a confirm tool nobody answers in time', async () => {
    homelab = await withHomelab(rt, { approvalTimeoutMs: 1_000 });
    rt.openai.script(...SCRIPTS.reboot);
    ask('reboot proxmox');
    const request = await approvalRequest();
    await until(() => botSaid('Done with proxmox.'));
    expect(shown(request.event_id)).toContain('No answer within 1 s: denied');
    await until(() => hints(request.event_id).length === 0);
    expect(homelab.calls).toHaveLength(0);
  });

  it('should stop a running tool when the asker reacts ⏹ to the answer', async () => {
    homelab = await withHomelab(rt);
    rt.openai.script(...SCRIPTS.hang);
    ask('hang please');
    const running = await until(() => botSaid('🔧 homelab › hang …'));
    mx.react(roomId, alice.userId, running.event_id, '⏹️');
    await homelab.hanging!.aborted;
    expect((await storedToolResults(rt))[0]!.meta.status).toBe('stopped');
    await until(() => !shown(running.event_id).includes('🔧 homelab › hang …'));
    expect(answerRequests(rt)).toHaveLength(1);
  });
});

describe.skipIf(!SYNAPSE_URL)('tools on Matrix (real Synapse)', { timeout: 60_000 }, () => {
  const WAIT_MS = 30_000;
  let botUser: { userId: string; accessToken: string; deviceId: string };
  let person: UserClient;

  beforeEach(async () => {
    const suffix = randomBytes(3).toString('hex');
    botUser = await registerUser(SYNAPSE_URL, SYNAPSE_SHARED_SECRET, `tlbot_${suffix}`, 'bot-password-123');
    const ada = await registerUser(SYNAPSE_URL, SYNAPSE_SHARED_SECRET, `ada_${suffix}`, 'ada-password-123');
    await startBot(SYNAPSE_URL, botUser);
    person = await startUserClient(SYNAPSE_URL, ada, { encryption: false });
    const carol = await registerUser(SYNAPSE_URL, SYNAPSE_SHARED_SECRET, `carol_${suffix}`, 'carol-password-1');
    ({ room_id: roomId } = await person.client.createRoom({ name: `tools ${suffix}`, invite: [botUser.userId, carol.userId] }));
    await until(() => person.client.getRoom(roomId)?.getMember(botUser.userId)?.membership === 'join', WAIT_MS);
  });

  afterEach(async () => {
    person.stop();
    await stopAdapter(rt.engine, adapter);
    await rt.shutdown();
  });

  const seenFromBot = (): SeenEvent[] => person.seen.filter((e) => e.roomId === roomId && e.sender === botUser.userId);
  const rel = (e: SeenEvent) => (e.content['m.relates_to'] ?? {}) as { rel_type?: string; event_id?: string; key?: string };
  function shownNow(eventId: string): string {
    const last = seenFromBot().filter((e) => rel(e).rel_type === 'm.replace' && rel(e).event_id === eventId).at(-1);
    return last ? String((last.content['m.new_content'] as { body?: string }).body) : String(seenFromBot().find((e) => e.id === eventId)?.content.body ?? '');
  }
  const sendAs = (type: string, content: Record<string, unknown>) =>
    (person.client.sendEvent as (roomId: string, type: string, content: unknown) => Promise<{ event_id: string }>).call(person.client, roomId, type, content);

  it('should run a confirm tool once the asker reacts ✅ on the request', async () => {
    const homelab = await withHomelab(rt, { approvalTimeoutMs: 20_000 });
    rt.openai.script(...SCRIPTS.reboot);
    await sendAs('m.room.message', { msgtype: 'm.text', body: `${botUser.userId}: reboot proxmox`, 'm.mentions': { user_ids: [botUser.userId] } });
    const request = await until(() => seenFromBot().find((e) => e.type === 'm.room.message' && String(e.content.body).includes('wants to run')), WAIT_MS);
    await until(() => seenFromBot().filter((e) => e.type === 'm.reaction' && rel(e).event_id === request.id).length === 2, WAIT_MS);
    expect(homelab.calls).toHaveLength(0);
    await sendAs('m.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: request.id, key: '✅' } });
    await until(() => seenFromBot().some((e) => e.type === 'm.room.message' && shownNow(e.id).includes('Done with proxmox.')), WAIT_MS);
    expect(homelab.calls).toHaveLength(1);
    await until(() => shownNow(request.id).includes('✅ Approved by'), WAIT_MS);
  });
});
