import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeProviderServer } from '../fakes/providers.js';
import { until } from '../support/wait.js';
import { startBotProcess, type BotProcess } from './bot-process.js';
import { SYNAPSE_SHARED_SECRET, SYNAPSE_URL } from './homeserver.js';
import { registerUser, type RegisteredUser } from './register.js';
import { startUserClient, type SeenEvent, type UserClient } from './user-client.js';

// The real-homeserver suite: `.ci/run` starts Synapse (test/matrix/synapse.sh) and sets these.
const baseUrl = SYNAPSE_URL;
const sharedSecret = SYNAPSE_SHARED_SECRET;
const WAIT_MS = 45_000;

interface Relation {
  rel_type?: string;
  event_id?: string;
  key?: string;
}
const relationOf = (e: SeenEvent): Relation => (e.content['m.relates_to'] ?? {}) as Relation;
const newBody = (e: SeenEvent): string => ((e.content['m.new_content'] ?? {}) as { body?: string }).body ?? '';

/** What the user sees of an answer: the latest body of the bot's message, edits applied. */
function shownText(events: SeenEvent[], answerId: string): string {
  const edits = events.filter((e) => relationOf(e).rel_type === 'm.replace' && relationOf(e).event_id === answerId);
  const original = events.find((e) => e.id === answerId);
  return edits.length ? newBody(edits[edits.length - 1]!) : String(original?.content.body ?? '');
}

/**
 * Answers by question: background calls (titles, summaries) come and go at their own time, so a
 * queue of scripted answers would be taken by whichever request came first.
 */
const scripted = new Map<string, string[]>();
function script(question: string, ...answers: string[]): void {
  scripted.set(question, answers);
}
function answerFor(request: { body: { messages?: Array<{ role: string; content: unknown }> } }): string {
  const messages = request.body.messages ?? [];
  if (messages.some((m) => m.role === 'system' && String(m.content).startsWith('Write a title'))) return 'A title';
  const last = [...messages].reverse().find((m) => m.role === 'user');
  const text = typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '');
  for (const [question, answers] of scripted) {
    if (text.includes(question)) return answers.length > 1 ? answers.shift()! : answers[0]!;
  }
  return `Echo: ${text}`;
}

describe.skipIf(!baseUrl)('Matrix bot against a real Synapse', { timeout: 180_000 }, () => {
  const suffix = randomBytes(3).toString('hex');
  let openai: FakeProviderServer;
  let utilityAi: FakeProviderServer;
  let dataDir: string;
  let botUser: RegisteredUser;
  let alice: RegisteredUser;
  let aliceClient: UserClient;
  let bot: BotProcess;
  let botEnv: Record<string, string>;

  beforeAll(async () => {
    openai = await startFakeOpenAI({ chunkSize: 6, defaultAnswer: answerFor });
    dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-matrix-'));
    botUser = await registerUser(baseUrl, sharedSecret, `threadloom_${suffix}`, 'bot-password-123');
    alice = await registerUser(baseUrl, sharedSecret, `alice_${suffix}`, 'alice-password-123');
    // the suite asks more questions a minute than the per-user limit lets a person ask
    // titles and summaries go to their own fake, so they never take an answer scripted for a question
    utilityAi = await startFakeOpenAI({ defaultAnswer: 'A title' });
    writeFileSync(
      path.join(dataDir, 'threadloom.config.yaml'),
      `limits:\n  userTurnsPerMinute: 600\nutilityModel: utility/gpt-4o-mini\nproviders:\n  utility:\n    kind: openai\n    baseURL: ${utilityAi.url}\n    apiKey: sk-utility-not-real\n`,
    );
    botEnv = {
      THREADLOOM_CONFIG: path.join(dataDir, 'threadloom.config.yaml'),
      THREADLOOM_DATA_DIR: dataDir,
      THREADLOOM_ADMIN_PORT: '0',
      THREADLOOM_DEFAULT_MODEL: 'openai/gpt-4o-mini',
      OPENAI_API_KEY: 'sk-test-not-real',
      OPENAI_BASE_URL: openai.url,
      MATRIX_HOMESERVER_URL: baseUrl,
      MATRIX_USER_ID: botUser.userId,
      MATRIX_PASSWORD: 'bot-password-123',
      MATRIX_STORE_KEY: 'a-test-store-key-of-enough-length',
    };
    bot = startBotProcess(botEnv);
    await bot.waitFor(/matrix: connected as/, 90_000);
    aliceClient = await startUserClient(baseUrl, alice);
  });

  afterEach((context) => {
    // the bot's own log explains a failure better than a timeout does
    if (context.task.result?.state === 'fail') process.stderr.write(`--- threadloom output ---\n${bot.output().slice(-6000)}\n`);
  });

  afterAll(async () => {
    aliceClient?.stop();
    await bot?.stop('SIGTERM');
    await openai?.close();
    await utilityAi?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const botEvents = (roomId: string): SeenEvent[] => aliceClient.seen.filter((e) => e.roomId === roomId && e.sender === botUser.userId);
  const botName = (): string => botUser.userId.slice(1).split(':')[0]!;
  /** the bot's top-level answers (not edits, not reactions) in a room or thread */
  const answers = (roomId: string, thread?: string): SeenEvent[] =>
    botEvents(roomId).filter((e) => e.type === 'm.room.message' && relationOf(e).rel_type !== 'm.replace' && (thread === undefined || relationOf(e).event_id === thread));

  async function send(roomId: string, content: Record<string, unknown>, type = 'm.room.message'): Promise<string> {
    const sendEvent = aliceClient.client.sendEvent as (roomId: string, type: string, content: unknown) => Promise<{ event_id: string }>;
    return (await sendEvent.call(aliceClient.client, roomId, type, content)).event_id;
  }
  const inThread = (root: string, body: string): Record<string, unknown> => ({
    msgtype: 'm.text',
    body,
    'm.relates_to': { rel_type: 'm.thread', event_id: root, is_falling_back: true, 'm.in_reply_to': { event_id: root } },
  });

  async function roomWithBot(options: { encrypted: boolean; direct?: boolean }): Promise<string> {
    const { room_id: roomId } = await aliceClient.client.createRoom({
      name: options.direct ? undefined : `room ${randomBytes(2).toString('hex')}`,
      invite: [botUser.userId],
      is_direct: options.direct ?? false,
      initial_state: options.encrypted ? [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }] : [],
    });
    if (!options.direct) {
      // a third member makes it a room, not a DM
      const carol = await registerUser(baseUrl, sharedSecret, `carol_${randomBytes(3).toString('hex')}`, 'carol-password-1');
      await aliceClient.client.invite(roomId, carol.userId);
    }
    await until(() => aliceClient.client.getRoom(roomId)?.getMember(botUser.userId)?.membership === 'join', WAIT_MS);
    return roomId;
  }

  /** Asks in a new thread and waits for the whole answer; returns the thread root and answer id. */
  async function askInThread(roomId: string, question: string, answer: string): Promise<{ root: string; answerId: string }> {
    script(question, answer);
    const root = await send(roomId, { msgtype: 'm.text', body: `${botName()}: ${question}`, 'm.mentions': { user_ids: [botUser.userId] } });
    const first = await until(() => answers(roomId, root)[0], WAIT_MS);
    await until(() => shownText(aliceClient.seen, first.id).includes(answer), WAIT_MS);
    return { root, answerId: first.id };
  }

  it('answers a mention in an encrypted room in a thread, streamed by edits a second client decrypts', async () => {
    const roomId = await roomWithBot({ encrypted: true });
    // streamed slowly enough that the answer is posted first and then edited
    openai.script({ answer: 'Ceph rebalances placement groups when an OSD joins or leaves the cluster.', delayMs: 150 });
    const asked = performance.now();
    const question = await send(roomId, { msgtype: 'm.text', body: `${botName()}: what does ceph do when an OSD joins?`, 'm.mentions': { user_ids: [botUser.userId] } });
    const answer = await until(() => answers(roomId, question)[0], WAIT_MS);
    const firstAnswerMs = performance.now() - asked;
    expect(relationOf(answer).rel_type).toBe('m.thread');
    expect(answer.encrypted).toBe(true);
    await until(() => shownText(aliceClient.seen, answer.id).includes('leaves the cluster.'), WAIT_MS);
    const edits = botEvents(roomId).filter((e) => relationOf(e).rel_type === 'm.replace' && relationOf(e).event_id === answer.id);
    expect(edits.length).toBeGreaterThan(0);
    expect(edits.every((e) => e.encrypted)).toBe(true);
    const last = edits[edits.length - 1]!.content['m.new_content'] as { format?: string; formatted_body?: string };
    expect(last.format).toBe('org.matrix.custom.html');
    expect(last.formatted_body).toContain('leaves the cluster.');
    // the model saw the question without the mention
    expect(JSON.stringify(openai.lastChatBody().messages)).toContain('"what does ceph do when an OSD joins?"');
    // the thread continues without a mention, and the model sees the earlier turn
    script('and then?', 'It moves data until every placement group is clean.');
    await send(roomId, inThread(question, 'and then?'));
    await until(() => answers(roomId, question).some((e) => shownText(aliceClient.seen, e.id).includes('every placement group is clean')), WAIT_MS);
    expect(JSON.stringify(openai.lastChatBody().messages)).toContain('Ceph rebalances placement groups');
    process.stdout.write(`matrix_first_answer_ms: ${Math.round(firstAnswerMs)}\n`);
  });

  it('answers in an unencrypted room too, and not at all without a mention outside threads', async () => {
    const roomId = await roomWithBot({ encrypted: false });
    await send(roomId, { msgtype: 'm.text', body: 'just people talking' });
    const { answerId } = await askInThread(roomId, 'hello there', 'General Kenobi.');
    expect(aliceClient.seen.find((e) => e.id === answerId)!.encrypted).toBe(false);
    expect(answers(roomId).map((e) => shownText(aliceClient.seen, e.id))).toEqual(['General Kenobi.']);
  });

  it('runs !tl commands, in a thread and in the room', async () => {
    const roomId = await roomWithBot({ encrypted: true });
    const { root } = await askInThread(roomId, 'first question', 'First answer.');
    await send(roomId, inThread(root, '!tl model'));
    await until(() => answers(roomId, root).some((e) => /gpt-4o-mini/.test(shownText(aliceClient.seen, e.id))), WAIT_MS);
    await send(roomId, { msgtype: 'm.text', body: '!tl help' });
    const help = await until(() => botEvents(roomId).find((e) => e.type === 'm.room.message' && String(e.content.body).includes('Threadloom commands')), WAIT_MS);
    expect(relationOf(help).rel_type).toBeUndefined();
    expect(String(help.content.body)).toContain('branch');
    await send(roomId, { msgtype: 'm.text', body: '!tl model no-such/model' });
    await until(() => botEvents(roomId).some((e) => /No provider "no-such" is configured/.test(String(e.content.body))), WAIT_MS);
  });

  it('regenerates on 🔁 and switches branches on ◀️ ▶️, after hinting those reactions', async () => {
    const roomId = await roomWithBot({ encrypted: true });
    const { root, answerId } = await askInThread(roomId, 'name a colour', 'Blue.');
    // the bot offered 🔁 on its finished answer
    await until(() => botEvents(roomId).some((e) => e.type === 'm.reaction' && relationOf(e).event_id === answerId && relationOf(e).key === '🔁'), WAIT_MS);
    script('name a colour', 'Green.');
    await send(roomId, { 'm.relates_to': { rel_type: 'm.annotation', event_id: answerId, key: '🔁' } }, 'm.reaction');
    const second = await until(() => answers(roomId, root).find((e) => e.id !== answerId && shownText(aliceClient.seen, e.id).includes('Green.')), WAIT_MS);
    await until(() => botEvents(roomId).some((e) => e.type === 'm.reaction' && relationOf(e).event_id === second.id && relationOf(e).key === '◀️'), WAIT_MS);
    await send(roomId, { 'm.relates_to': { rel_type: 'm.annotation', event_id: second.id, key: '◀️' } }, 'm.reaction');
    await until(() => shownText(aliceClient.seen, second.id).includes('Blue.') && shownText(aliceClient.seen, second.id).includes('branch 1/2'), WAIT_MS);
    await send(roomId, { 'm.relates_to': { rel_type: 'm.annotation', event_id: second.id, key: '▶️' } }, 'm.reaction');
    await until(() => shownText(aliceClient.seen, second.id).includes('Green.') && shownText(aliceClient.seen, second.id).includes('branch 2/2'), WAIT_MS);
  });

  it('makes a branch when the user edits their question', async () => {
    const roomId = await roomWithBot({ encrypted: true });
    const { root } = await askInThread(roomId, 'what is 2+2?', 'Four.');
    script('what is 3+3?', 'Six.');
    await send(roomId, {
      msgtype: 'm.text',
      body: `* ${botName()}: what is 3+3?`,
      'm.new_content': { msgtype: 'm.text', body: `${botName()}: what is 3+3?` },
      'm.relates_to': { rel_type: 'm.replace', event_id: root },
    });
    const branch = await until(() => answers(roomId, root).find((e) => shownText(aliceClient.seen, e.id).includes('Six.')), WAIT_MS);
    expect(relationOf(branch).rel_type).toBe('m.thread');
    const prompt = JSON.stringify(openai.lastChatBody().messages);
    expect(prompt).toContain('what is 3+3?');
    expect(prompt).not.toContain('Four.');
  });

  it('keeps one running conversation in a DM, answered without a mention or thread', async () => {
    const roomId = await roomWithBot({ encrypted: true, direct: true });
    script('hi bot', 'Hi Alice.');
    await send(roomId, { msgtype: 'm.text', body: 'hi bot' });
    const first = await until(() => answers(roomId).find((e) => shownText(aliceClient.seen, e.id).includes('Hi Alice.')), WAIT_MS);
    expect(relationOf(first).rel_type).toBeUndefined();
    script('still there?', 'Still here.');
    await send(roomId, { msgtype: 'm.text', body: 'still there?' });
    await until(() => answers(roomId).some((e) => shownText(aliceClient.seen, e.id).includes('Still here.')), WAIT_MS);
    expect(JSON.stringify(openai.lastChatBody().messages)).toContain('Hi Alice.');
  });

  it('reads an image sent into an encrypted DM: downloaded, decrypted and given to the model', async () => {
    const roomId = await roomWithBot({ encrypted: true, direct: true });
    // what an encrypting client does with an attachment: AES-256-CTR, then upload the ciphertext
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(64)]);
    const key = randomBytes(32);
    const iv = Buffer.concat([randomBytes(8), Buffer.alloc(8)]);
    const cipher = createCipheriv('aes-256-ctr', key, iv);
    const ciphertext = Buffer.concat([cipher.update(png), cipher.final()]);
    const upload = await fetch(`${baseUrl}/_matrix/media/v3/upload?filename=rack.png`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.accessToken}`, 'content-type': 'application/octet-stream' },
      body: ciphertext,
    });
    const { content_uri: url } = (await upload.json()) as { content_uri: string };
    const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');
    script('what is in this picture', 'A rack with one amber light.');
    await send(roomId, {
      msgtype: 'm.image',
      body: 'what is in this picture',
      filename: 'rack.png',
      info: { mimetype: 'image/png', size: png.length },
      file: { v: 'v2', url, iv: b64(iv), hashes: { sha256: b64(createHash('sha256').update(ciphertext).digest()) }, key: { kty: 'oct', alg: 'A256CTR', ext: true, key_ops: ['encrypt', 'decrypt'], k: key.toString('base64url') } },
    });
    await until(() => answers(roomId).some((e) => shownText(aliceClient.seen, e.id).includes('amber light')), WAIT_MS);
    expect(JSON.stringify(openai.lastChatBody().messages)).toContain(png.toString('base64'));
  });

  it('splits a long answer into events under the size limit without breaking its code block', async () => {
    const roomId = await roomWithBot({ encrypted: true });
    const code = Array.from({ length: 400 }, (_, i) => `line ${i}: ${'x'.repeat(40)}`).join('\n');
    const long = `Here is the script:\n\n\`\`\`bash\n${code}\n\`\`\`\n\nDone.`;
    script('write a long script', long);
    const root = await send(roomId, { msgtype: 'm.text', body: `${botName()}: write a long script` });
    await until(() => answers(roomId, root).some((e) => shownText(aliceClient.seen, e.id).includes('Done.')), 90_000);
    const parts = answers(roomId, root).map((e) => shownText(aliceClient.seen, e.id));
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) expect((part.match(/```/g) ?? []).length % 2).toBe(0);
    expect(parts.join('\n')).toContain('line 399');
  });

  it('asks once, politely, to re-send a message it cannot decrypt, and stays in the room', async () => {
    const roomId = await roomWithBot({ encrypted: true });
    // ciphertext for a session the bot never got a key for, sent around alice's own crypto
    const undecryptable = (n: number) =>
      fetch(`${baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.encrypted/garbled-${suffix}-${n}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${alice.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ algorithm: 'm.megolm.v1.aes-sha2', sender_key: 'c2VuZGVyIGtleQ', device_id: alice.deviceId, session_id: `lost-session-${suffix}`, ciphertext: 'AwgAEnB0aGlzIGlzIG5vdCBhIHJlYWwgbWVzc2FnZQ' }),
      });
    expect((await undecryptable(1)).ok).toBe(true);
    expect((await undecryptable(2)).ok).toBe(true);
    const apologies = (): SeenEvent[] => botEvents(roomId).filter((e) => /could not decrypt your message/.test(String(e.content.body)));
    await until(() => apologies().length > 0, WAIT_MS);
    // both messages waited for their keys together: give the second one time to (not) apologise
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // the second message of the same lost session gets no second apology, and the bot still answers
    await askInThread(roomId, 'can you read this one', 'Yes, this one I can read.');
    expect(apologies()).toHaveLength(1);
    expect(aliceClient.client.getRoom(roomId)?.getMember(botUser.userId)?.membership).toBe('join');
  });

  it('refuses to start a second process on the same data dir and crypto store', async () => {
    const second = startBotProcess(botEnv);
    const code = await new Promise<number | null>((resolve) => second.child.once('exit', resolve));
    expect(code).toBe(1);
    // the data dir's lock is taken first, before the crypto store's is reached
    expect(second.output()).toMatch(/is in use by another Threadloom \(pid \d+ on host /);
    // the running bot still answers
    const roomId = await roomWithBot({ encrypted: true });
    await askInThread(roomId, 'are you still alive', 'Yes, still here.');
  });

  it('on SIGTERM mid-answer, finishes the answer before exiting', async () => {
    const roomId = await roomWithBot({ encrypted: true });
    const full = 'This answer takes a few seconds to stream, and it still arrives whole.';
    openai.script({ answer: full, chunkSize: 3, delayMs: 80 });
    const root = await send(roomId, { msgtype: 'm.text', body: `${botName()}: take your time` });
    const answer = await until(() => answers(roomId, root)[0], WAIT_MS);
    expect(shownText(aliceClient.seen, answer.id)).not.toBe(full);
    const stopped = bot;
    try {
      expect(await stopped.stop('SIGTERM')).toBe(0);
      expect(stopped.output()).toMatch(/answers in flight: 1 finished, 0 cut short/);
      await until(() => shownText(aliceClient.seen, answer.id) === full, WAIT_MS);
    } finally {
      // the tests after this one need a running bot, whatever happened here
      bot = startBotProcess(botEnv);
      await bot.waitFor(/matrix: connected as/, 90_000);
    }
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`after ${signal}, answers once, decrypted, a message sent while it was down`, async () => {
      const roomId = await roomWithBot({ encrypted: true });
      const { root } = await askInThread(roomId, `before the ${signal}`, 'Noted.');
      // let the last snapshot of the crypto store and the sync position reach the disk
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const exit = await bot.stop(signal);
      if (signal === 'SIGTERM') expect(exit).toBe(0);
      script(`sent while down ${signal}`, `Caught up after ${signal}.`);
      await send(roomId, inThread(root, `sent while down ${signal}`));
      const restarted = performance.now();
      bot = startBotProcess(botEnv);
      await bot.waitFor(/matrix: connected as/, 90_000);
      const readyMs = performance.now() - restarted;
      const caughtUp = (): SeenEvent[] => answers(roomId, root).filter((e) => shownText(aliceClient.seen, e.id).includes(`Caught up after ${signal}.`));
      await until(() => caughtUp().length > 0, WAIT_MS);
      // a later question in the same thread is answered too, and the missed one still only once
      script(`after the ${signal} restart`, 'Back to normal.');
      await send(roomId, inThread(root, `after the ${signal} restart`));
      await until(() => answers(roomId, root).some((e) => shownText(aliceClient.seen, e.id).includes('Back to normal.')), WAIT_MS);
      expect(caughtUp()).toHaveLength(1);
      expect(bot.output()).not.toMatch(/could not decrypt/);
      process.stdout.write(`matrix_restart_to_ready_ms_${signal}: ${Math.round(readyMs)}\n`);
    });
  }
});
