import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMatrixAdapter, type MatrixAdapter } from '../../src/bots/matrix/index.js';
import { startFakeMatrix, type FakeMatrix, type StoredEvent } from '../fakes/matrix/index.js';
import { startAdapter, stopAdapter } from '../../src/core/runtime.js';
import { adapterContext, startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { SCRIPTS, storedToolResults, withHomelab, type Homelab } from '../support/tools.js';
import { PATIENT_ROUTING, answerRequests, until } from '../support/wait.js';

// Tool calls over the real matrix-js-sdk against the fake homeserver: approvals are reactions
// (✅ / ❌) on the request, or `!tl approve` / `!tl deny` typed in the conversation's thread.

let mx: FakeMatrix;
let rt: TestRuntime;
let adapter: MatrixAdapter;
let bot: { userId: string; accessToken: string; deviceId: string };
let alice: { userId: string };
let bob: { userId: string };
let roomId: string;

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

const hints = (eventId: string): string[] => fromBot().filter((e) => e.type === 'm.reaction' && relation(e).event_id === eventId).map((e) => relation(e).key!);

describe('tools on Matrix (fake homeserver)', () => {
  let homelab: Homelab;

  it('should answer through a read-only tool and end the answer with the tools it used', async () => {
    homelab = await withHomelab(rt);
    rt.openai.script(...SCRIPTS.list);
    ask('which machines are down?');
    const answer = await until(() => botSaid('proxmox is down'));
    await until(() => shown(answer.event_id).includes('🔧 homelab › list_machines'));
    expect(homelab.calls).toHaveLength(1);
  });

  it('should run a confirm tool once the asker reacts ✅, not taking the bot\'s own hint reactions as an answer', async () => {
    homelab = await withHomelab(rt, { approvalTimeoutMs: 5_000 });
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
  });

  it('should take `!tl approve` typed in the thread', async () => {
    homelab = await withHomelab(rt, { approvalTimeoutMs: 5_000 });
    rt.openai.script(...SCRIPTS.reboot);
    const question = ask('reboot proxmox');
    await approvalRequest();
    mx.say(roomId, alice.userId, '!tl approve', { thread: question });
    await until(() => botSaid('Done with proxmox.'));
    expect(homelab.calls).toHaveLength(1);
  });

  it('should refuse another user\'s ✅ and `!tl approve`, telling them, and not run the tool; the asker\'s `!tl deny` then denies', async () => {
    homelab = await withHomelab(rt, { approvalTimeoutMs: 5_000 });
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
