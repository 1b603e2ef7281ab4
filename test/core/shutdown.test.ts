import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecordingReply, inbound } from '../support/reply.js';
import { instanceLease } from '../../src/core/instances/interrupted.js';
import { Leases } from '../../src/core/instances/leases.js';
import { recoverInterruptedAnswers } from '../../src/core/runtime.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { until } from '../support/wait.js';

let rt: TestRuntime;
beforeEach(async () => {
  rt = await startTestRuntime();
});
afterEach(async () => {
  await rt.shutdown();
});

const answers = () => rt.deps.db.selectFrom('messages').selectAll().where('role', '=', 'assistant').orderBy('id').execute();
const chatRequests = () => rt.openai.chatRequests().filter((r) => !String(r.body.messages[0]?.content).startsWith('Write a title'));

describe('graceful shutdown (Engine.drain)', () => {
  it('lets an answer being written finish within the grace period', async () => {
    rt.openai.script({ answer: 'A slow but complete answer.', delayMs: 40 });
    const reply = new RecordingReply();
    const turn = rt.engine.handle(inbound('tell me slowly'), reply);
    await until(() => chatRequests().length === 1);
    const result = await rt.engine.drain(10_000);
    await turn;
    expect(result).toEqual({ finished: 1, cut: 0 });
    expect((await answers())[0]).toMatchObject({ status: 'complete', content: 'A slow but complete answer.' });
    expect(reply.messages.at(-1)!.text).not.toMatch(/Cut short/);
  });

  it('cuts an answer that outlasts the grace period, keeps what arrived as partial, and says so in the chat', async () => {
    rt.openai.script({ answer: 'word '.repeat(200), delayMs: 30, chunkSize: 5 });
    const reply = new RecordingReply();
    const turn = rt.engine.handle(inbound('tell me a very long story'), reply);
    await until(() => reply.messages.length > 0);
    const result = await rt.engine.drain(100);
    await turn;
    expect(result).toEqual({ finished: 0, cut: 1 });
    const [answer] = await answers();
    expect(answer!.status).toBe('partial');
    expect(answer!.content.length).toBeGreaterThan(0);
    expect(answer!.content.length).toBeLessThan('word '.repeat(200).length);
    expect(reply.messages.at(-1)!.text).toMatch(/Cut short: Threadloom is restarting/);
  });

  it('takes no new events while closing, and leaves them unclaimed for the catch-up after a restart', async () => {
    await rt.engine.drain(0);
    const reply = new RecordingReply();
    await rt.engine.handle(inbound('anyone there?', { eventId: 'late-1' }), reply);
    expect(reply.messages).toHaveLength(0);
    expect(chatRequests()).toHaveLength(0);
    const claimed = await rt.deps.db.selectFrom('processed_events').selectAll().where('event_id', '=', 'late-1').execute();
    expect(claimed).toHaveLength(0);
  });

  it('after a kill mid-answer, the next start keeps what had streamed as a partial answer', async () => {
    rt.openai.script({ answer: 'word '.repeat(300), delayMs: 30, chunkSize: 5 });
    const turn = rt.engine.handle(inbound('tell me everything'), new RecordingReply());
    // the text so far reaches the database every 2 s while streaming
    let saved = '';
    for (let i = 0; i < 300 && !saved; i++) {
      saved = (await answers())[0]?.content ?? '';
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(saved.length).toBeGreaterThan(0);
    // what the next process does at start on the same file, while this one is "dead" (on
    // PostgreSQL, where instances share the database: its instance lease is gone)
    await new Leases(rt.deps.db, rt.instance).release(instanceLease(rt.instance));
    expect(await recoverInterruptedAnswers(rt.deps.db)).toBe(1);
    expect((await answers())[0]).toMatchObject({ status: 'partial', error: 'interrupted: Threadloom stopped while answering' });
    expect((await answers())[0]!.content.startsWith(saved.slice(0, 20))).toBe(true);
    rt.engine.turns.stopAll();
    await turn;
  });
});
