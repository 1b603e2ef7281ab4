import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeProviderServer } from '../fakes/providers.js';
import { until } from '../support/wait.js';
import { startBotProcess, type BotProcess } from './bot-process.js';
import { registerUser, type RegisteredUser } from './register.js';
import { startUserClient, type SeenEvent, type UserClient } from './user-client.js';

// The real-homeserver suite: `.ci/run` starts Synapse (test/matrix/synapse.sh) and sets these.
const baseUrl = process.env.SYNAPSE_URL ?? '';
const sharedSecret = process.env.SYNAPSE_SHARED_SECRET ?? '';
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

describe.skipIf(!baseUrl)('Matrix bot against a real Synapse', { timeout: 180_000 }, () => {
  const suffix = randomBytes(3).toString('hex');
  let openai: FakeProviderServer;
  let dataDir: string;
  let botUser: RegisteredUser;
  let alice: RegisteredUser;
  let aliceClient: UserClient;
  let bot: BotProcess;
  let botEnv: Record<string, string>;

  beforeAll(async () => {
    openai = await startFakeOpenAI({ chunkSize: 6 });
    dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-matrix-'));
    botUser = await registerUser(baseUrl, sharedSecret, `threadloom_${suffix}`, 'bot-password-123');
    alice = await registerUser(baseUrl, sharedSecret, `alice_${suffix}`, 'alice-password-123');
    botEnv = {
      THREADLOOM_DATA_DIR: dataDir,
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

  afterAll(async () => {
    aliceClient?.stop();
    await bot?.stop('SIGTERM');
    await openai?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const botEvents = (roomId: string): SeenEvent[] => aliceClient.seen.filter((e) => e.roomId === roomId && e.sender === botUser.userId);

  async function encryptedRoomWithBot(): Promise<string> {
    const { room_id: roomId } = await aliceClient.client.createRoom({
      name: `encrypted ${randomBytes(2).toString('hex')}`,
      invite: [botUser.userId, '@nobody_else:localhost'].slice(0, 1),
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    // a third member makes it a room, not a DM; alice invites one more person who never joins
    const carol = await registerUser(baseUrl, sharedSecret, `carol_${randomBytes(3).toString('hex')}`, 'carol-password-1');
    await aliceClient.client.invite(roomId, carol.userId);
    await until(() => aliceClient.client.getRoom(roomId)?.getMember(botUser.userId)?.membership === 'join', WAIT_MS);
    return roomId;
  }

  it('answers a mention in an encrypted room in a thread, streamed by edits a second client decrypts', async () => {
    const roomId = await encryptedRoomWithBot();
    openai.script({ answer: 'Ceph rebalances placement groups when an OSD joins or leaves the cluster.', delayMs: 150 });
    const asked = performance.now();
    const { event_id: question } = await aliceClient.client.sendMessage(roomId, {
      msgtype: 'm.text',
      body: `${botUser.userId.slice(1).split(':')[0]}: what does ceph do when an OSD joins?`,
      'm.mentions': { user_ids: [botUser.userId] },
    });
    await until(() => botEvents(roomId).some((e) => e.type === 'm.room.message' && relationOf(e).rel_type === 'm.thread'), WAIT_MS);
    const firstAnswerMs = performance.now() - asked;
    const answer = botEvents(roomId).find((e) => e.type === 'm.room.message' && relationOf(e).rel_type === 'm.thread')!;
    expect(relationOf(answer).event_id).toBe(question);
    expect(answer.encrypted).toBe(true);
    await until(() => shownText(aliceClient.seen, answer.id).includes('leaves the cluster.'), WAIT_MS);
    const edits = botEvents(roomId).filter((e) => relationOf(e).rel_type === 'm.replace' && relationOf(e).event_id === answer.id);
    expect(edits.length).toBeGreaterThan(0);
    expect(edits.every((e) => e.encrypted)).toBe(true);
    const last = edits[edits.length - 1]!.content['m.new_content'] as { format?: string; formatted_body?: string };
    expect(last.format).toBe('org.matrix.custom.html');
    expect(last.formatted_body).toContain('leaves the cluster.');
    // the model saw the question without the mention
    expect(JSON.stringify(openai.lastChatBody().messages)).toContain('what does ceph do when an OSD joins?');
    process.stdout.write(`matrix_first_answer_ms: ${Math.round(firstAnswerMs)}\n`);
  });
});
