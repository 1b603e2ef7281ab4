/**
 * What every chat platform must do, asked of Discord, Slack and Matrix alike, each through its
 * real adapter and SDK against its fake (drivers in conformance-drivers.ts). What only one
 * platform does (slash commands, Block Kit, encryption, invites) stays in its own tests.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { answerRequests, until } from '../support/wait.js';
import { subjects, type Driver, type DriverOptions, type Subject } from './conformance-drivers.js';

const finished = (text: string) => (a: { text: string }) => a.text.startsWith(text) && !a.text.includes('▌');

describe.each(subjects)('$label bot', (subject: Subject) => {
  let bot: Driver | null = null;
  const start = async (options?: DriverOptions): Promise<Driver> => (bot = await subject.start(options));
  const ask = async (driver: Driver, text: string): Promise<string> => {
    const id = driver.mention(text);
    return until(() => driver.threadOf(id));
  };
  beforeEach(() => {
    bot = null;
  });
  afterEach(async () => {
    await bot?.close();
  });

  it('answers a mention in a thread of its own, streamed, and a follow-up there without a mention', async () => {
    const driver = await start();
    const { rt, say, answers } = driver;
    rt.openai.script({ answer: 'Check the pool with zpool status, then replace the faulted disk.', chunkSize: 6, delayMs: 40 });
    const thread = await ask(driver, 'why is my zpool degraded?');
    const answer = await until(() => answers(thread).find(finished('Check the pool with zpool status, then replace the faulted disk.')));
    expect(answer.text).toContain('replace the faulted disk');
    // streamed: the model's answer arrived in pieces and the message was written as they came
    expect(rt.openai.chatRequests()[0]!.body.stream).toBe(true);

    say(thread, 'it says one disk is FAULTED');
    await until(() => answers(thread).find(finished('Echo: it says one disk is FAULTED')));
    const sent = answerRequests(rt).at(-1)!.body.messages.slice(1).map((m: { content: string }) => m.content);
    expect(sent).toEqual(['why is my zpool degraded?', 'Check the pool with zpool status, then replace the faulted disk.', 'it says one disk is FAULTED']);
  });

  it('answers only the people its allowlist names', async () => {
    const driver = await start({ allowTesterOnly: true });
    const { rt, answers, threadOf } = driver;
    const outsider = driver.mention('let me in', 'outsider');
    const thread = await ask(driver, 'and me?');
    await until(() => answers(thread).find(finished('Echo: and me?')));
    // the outsider spoke first and got nothing: no thread, no answer, no model call
    const outsiderThread = threadOf(outsider);
    expect(outsiderThread === null ? [] : answers(outsiderThread)).toEqual([]);
    expect(answerRequests(rt).map((r) => r.body.messages.at(-1).content)).toEqual(['and me?']);
  });

  it('regenerates an answer and moves between the answers with the arrows', async () => {
    const driver = await start();
    const { rt, answers, press } = driver;
    const thread = await ask(driver, 'name a linux distro');
    const first = await until(() => answers(thread).find(finished('Echo: name a linux distro')));
    await press(thread, first.id, 'regen');
    const second = await until(() => answers(thread).find((a) => a.id !== first.id && finished('Echo: name a linux distro')(a)));
    await press(thread, second.id, 'prev');
    await until(() => answers(thread).find((a) => a.id === second.id && a.text.includes('branch 1/2')));
    await press(thread, second.id, 'next');
    await until(() => answers(thread).find((a) => a.id === second.id && a.text.includes('branch 2/2')));
    const saved = await rt.deps.db.selectFrom('messages').select('role').where('role', '=', 'assistant').execute();
    expect(saved).toHaveLength(2);
  });

  it('answers an edited question on a new branch', async () => {
    const driver = await start();
    const { say, edit, answers } = driver;
    const thread = await ask(driver, 'start');
    await until(() => answers(thread).find(finished('Echo: start')));
    const question = say(thread, 'restart nginx');
    await until(() => answers(thread).find(finished('Echo: restart nginx')));
    edit(thread, question, 'reload nginx');
    const branched = await until(() => answers(thread).find(finished('Echo: reload nginx')));
    expect(branched.text).toContain('This answers your edited message (branch 2/2)');
  });

  it('stops an answer being written and keeps what arrived', async () => {
    const driver = await start();
    const { rt, answers, press } = driver;
    const long = 'word '.repeat(300).trim();
    rt.openai.script({ answer: long, chunkSize: 5, delayMs: 40 });
    const thread = await ask(driver, 'talk for a long time');
    const answer = await until(() => answers(thread).find((a) => a.text.startsWith('word')));
    await press(thread, answer.id, 'stop');
    await until(() => answers(thread).find((a) => a.id === answer.id && a.text.includes('Stopped')), 30_000);
    const saved = await rt.deps.db.selectFrom('messages').selectAll().where('role', '=', 'assistant').executeTakeFirstOrThrow();
    expect(saved.content.length).toBeLessThan(long.length);
  }, 40_000);

  it('answers a message exactly once when the platform delivers it again', async () => {
    const driver = await start();
    const { rt, handled, say, answers, redeliver } = driver;
    const thread = await ask(driver, 'once please');
    await until(() => answers(thread).find(finished('Echo: once please')));
    say(thread, 'and once more');
    await until(() => answers(thread).find(finished('Echo: and once more')));
    const before = handled.length;
    await redeliver(thread);
    // the platform did deliver again: the same events reached the engine a second time
    await until(() => handled.slice(before).some((id) => handled.slice(0, before).includes(id)));
    say(thread, 'still there?');
    await until(() => answers(thread).find(finished('Echo: still there?')));
    expect(answers(thread).filter(finished('Echo: once please'))).toHaveLength(1);
    expect(answers(thread).filter(finished('Echo: and once more'))).toHaveLength(1);
    expect(answerRequests(rt).filter((r) => JSON.stringify(r.body.messages.at(-1)).includes('and once more'))).toHaveLength(1);
  }, 40_000);
});
