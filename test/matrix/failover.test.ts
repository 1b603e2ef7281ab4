import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/core/db/postgres.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/index.js';
import { startFakeOpenAI } from '../fakes/providers.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack/index.js';
import type { ThreadloomProcess } from '../support/process.js';
import { startInstance } from '../support/instances.js';
import { TEST_POSTGRES_URL, freshPostgresDatabase } from '../support/postgres.js';
import { until } from '../support/wait.js';
import { SYNAPSE_SHARED_SECRET, SYNAPSE_URL } from './homeserver.js';
import { registerUser } from './register.js';
import { startUserClient, type SeenEvent, type UserClient } from './user-client.js';

/**
 * Three Threadloom processes on one PostgreSQL with the fake Discord, the fake Slack (Socket
 * Mode) and a real Synapse. One instance holds Discord and Matrix; it is killed (SIGKILL) while
 * it streams answers on both. Another takes both over: Matrix as the same device, with the
 * crypto store the dead one kept in the database, so the encrypted DM goes on. Every question
 * gets exactly one finished answer in the chat and in the database.
 */

/** short for a test, long enough that a start compiling under tsx on a loaded machine keeps renewing */
const LEASE_MS = 8_000;
/** a start through tsx (it compiles the tree) on a loaded machine */
const PATIENT = 120_000;
const ADA = '200000000000000001';
const HELD = (platform: string): RegExp => new RegExp(`lease platform:${platform}\\S*: held by this instance`);

const started: ThreadloomProcess[] = [];
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async (context) => {
  if (context.task.result?.state === 'fail') for (const p of started) process.stderr.write(`--- instance output ---\n${p.stderr().slice(-5000)}\n`);
  for (const p of started.splice(0)) p.child.kill('SIGKILL');
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** The slow questions stream for about 20 s: long enough to kill their writer mid-answer. */
const LONG_TAIL = ' and so on'.repeat(40);
function answerFor(request: { body: { messages?: Array<{ role: string; content: unknown }> } }): string {
  const last = [...(request.body.messages ?? [])].reverse().find((m) => m.role === 'user');
  const text = typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '');
  const question = /\b([dms]-[a-z]+)\b/.exec(text)?.[1] ?? text;
  return question.endsWith('-slow') ? `Echo: ${question}${LONG_TAIL}.` : `Echo: ${question}`;
}

describe.skipIf(!TEST_POSTGRES_URL || !SYNAPSE_URL)('three instances on PostgreSQL, with Discord, Slack and Matrix', () => {
  it('hands Discord and Matrix to another instance when their holder is killed mid-answer; Slack goes on; every question is answered once', { timeout: 6 * PATIENT }, async () => {
    const server = await freshPostgresDatabase(TEST_POSTGRES_URL!);
    cleanup.push(() => server.drop());
    const [discord, slack, provider, utility] = await Promise.all([startFakeDiscord(), startFakeSlack(), startFakeOpenAI({ models: ['*'], chunkSize: 8, defaultAnswer: answerFor }), startFakeOpenAI({ models: ['*'], defaultAnswer: 'A title' })]);
    cleanup.push(() => discord.close(), () => slack.close(), () => provider.close(), () => utility.close());

    const suffix = randomBytes(3).toString('hex');
    const botUser = await registerUser(SYNAPSE_URL, SYNAPSE_SHARED_SECRET, `threadloom_fo_${suffix}`, 'bot-password-123');
    const ada = await registerUser(SYNAPSE_URL, SYNAPSE_SHARED_SECRET, `ada_fo_${suffix}`, 'ada-password-123');
    const shared = mkdtempSync(path.join(tmpdir(), 'threadloom-failover-'));
    cleanup.push(() => rmSync(shared, { recursive: true, force: true }));
    // titles and summaries go to their own fake, so the answers' fake sees questions only
    writeFileSync(
      path.join(shared, 'threadloom.config.yaml'),
      `limits:\n  userTurnsPerMinute: 600\nutilityModel: utility/gpt-4o-mini\nproviders:\n  utility:\n    kind: openai\n    baseURL: ${utility.url}\n    apiKey: sk-utility-not-real\n`,
    );
    const instance = (name: string): ThreadloomProcess => {
      const p = startInstance(name, {
        databaseUrl: server.url, leaseMs: LEASE_MS, providerUrl: provider.url, cleanup,
        env: {
          THREADLOOM_CONFIG: path.join(shared, 'threadloom.config.yaml'),
          // every instance alike: what one seals (the Matrix store key) the others open
          THREADLOOM_SECRET_KEY: 'the-same-secret-key-on-every-instance',
          DISCORD_TOKEN: 'failover-token',
          DISCORD_API_BASE_URL: discord.apiUrl,
          SLACK_BOT_TOKEN: slack.botToken,
          SLACK_APP_TOKEN: slack.appToken,
          SLACK_API_URL: slack.apiUrl,
          MATRIX_HOMESERVER_URL: SYNAPSE_URL,
          MATRIX_USER_ID: botUser.userId,
          MATRIX_PASSWORD: 'bot-password-123',
        },
      });
      started.push(p);
      return p;
    };

    // the first instance takes Discord and Matrix; the other two stand by for them; all three take Slack events
    const first = instance('a');
    await Promise.all([first.waitFor(/threadloom ready/), first.waitFor(HELD('discord')), first.waitFor(HELD('matrix')), first.waitFor(/matrix: connected as/)]);
    const others = [instance('b'), instance('c')];
    await Promise.all(others.map((p) => p.waitFor(/threadloom ready/)));
    for (const p of others) expect(p.stderr()).not.toMatch(/lease platform:(discord|matrix)\S*: held/);
    expect(slack.socketConnections.open).toBe(3);

    const adaClient: UserClient = await startUserClient(SYNAPSE_URL, ada);
    cleanup.push(() => adaClient.stop());
    const { room_id: room } = await adaClient.client.createRoom({
      invite: [botUser.userId],
      is_direct: true,
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    await until(() => adaClient.client.getRoom(room)?.getMember(botUser.userId)?.membership === 'join', PATIENT);

    const askMatrix = async (body: string): Promise<void> => {
      const sendEvent = adaClient.client.sendEvent as (roomId: string, type: string, content: unknown) => Promise<{ event_id: string }>;
      await sendEvent.call(adaClient.client, room, 'm.room.message', { msgtype: 'm.text', body });
    };
    const askSlack = (question: string): string => slack.userSays({ text: `<@${slack.botUserId}> ${question}`, mentionsBot: true });
    const seen = { discord, slack, matrix: adaClient, botId: botUser.userId, room };

    // before: one answer each
    discord.dmSays({ content: 'd-one', authorId: ADA });
    await askMatrix('m-one');
    askSlack('s-one');
    await answeredOnce(seen, ['d-one', 'm-one', 's-one']);
    // the bot answered in the encrypted DM, and Ada could read it
    expect(matrixAnswers(seen).every((e) => e.encrypted)).toBe(true);

    // the holder is killed while it streams an answer on Discord and one on Matrix
    provider.script({ delayMs: 400 }, { delayMs: 400 });
    discord.dmSays({ content: 'd-slow', authorId: ADA });
    await askMatrix('m-slow');
    await until(() => startedAnswers(seen, 'd-slow') > 0 && startedAnswers(seen, 'm-slow') > 0, PATIENT);
    first.child.kill('SIGKILL');
    const killedAt = Date.now();
    await first.exited;

    // asked while nobody holds Discord and Matrix; Slack is on the other two all along
    discord.dmSays({ content: 'd-two', authorId: ADA });
    await askMatrix('m-two');
    askSlack('s-two');
    const takeover = async (platform: string): Promise<{ ms: number; by: ThreadloomProcess }> => {
      const by = await Promise.any(others.map(async (p) => (await p.waitFor(HELD(platform)), p)));
      return { ms: Date.now() - killedAt, by };
    };
    const [discordTakeover, matrixTakeover] = await Promise.all([takeover('discord'), takeover('matrix')]);
    console.log(`failover: Discord held again ${discordTakeover.ms} ms and Matrix ${matrixTakeover.ms} ms after the holder was killed (lease ${LEASE_MS} ms)`);
    expect(discordTakeover.ms).toBeLessThan(30_000);
    expect(matrixTakeover.ms).toBeLessThan(30_000);
    // the same device, its keys from the database: no new login, the encrypted DM readable both ways
    await matrixTakeover.by.waitFor(/matrix: crypto store restored from the database/);
    expect(matrixTakeover.by.stderr()).not.toMatch(/logged in as/);

    // the answers cut off by the kill are written again, whole, by the new holders; and what was asked meanwhile is answered
    await answeredOnce(seen, ['d-slow', 'm-slow', 'd-two', 'm-two', 's-two']);
    // and after the takeover, on the new holders
    discord.dmSays({ content: 'd-three', authorId: ADA });
    await askMatrix('m-three');
    askSlack('s-three');
    await answeredOnce(seen, ['d-three', 'm-three', 's-three']);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const questions = ['d-one', 'm-one', 's-one', 'd-slow', 'm-slow', 'd-two', 'm-two', 's-two', 'd-three', 'm-three', 's-three'];
    expect(Object.fromEntries(questions.map((q) => [q, finishedAnswers(seen, q)]))).toEqual(Object.fromEntries(questions.map((q) => [q, 1])));
    expect(matrixAnswers(seen).every((e) => e.encrypted)).toBe(true);
    console.log(`failover: the answers cut off by the kill: Discord ${JSON.stringify(shownDiscord(discord, 'd-slow'))}, Matrix ${JSON.stringify(shownMatrix(seen, 'm-slow'))}`);

    // the database holds each question once, and one answer to each
    const database = openPostgres(server.url);
    try {
      const rows = await database.db.selectFrom('messages').select(['role', 'content', 'status', 'error']).where('role', 'in', ['user', 'assistant']).orderBy('id').execute();
      const asked = rows.filter((r) => r.role === 'user').map((r) => /\b[dms]-[a-z]+\b/.exec(r.content)?.[0]);
      expect(asked.sort()).toEqual([...questions].sort());
      const complete = rows.filter((r) => r.role === 'assistant' && r.status === 'complete').map((r) => /\b[dms]-[a-z]+\b/.exec(r.content)?.[0]);
      expect(new Set(complete).size).toBe(complete.length);
      for (const q of questions) expect(complete).toContain(q);
      // what the killed instance had written of them is kept beside the new answers, marked cut off
      const cut = rows.filter((r) => r.role === 'assistant' && r.status !== 'complete');
      expect(cut.length).toBeLessThanOrEqual(2);
      for (const r of cut) expect(r.error).toMatch(/interrupted/);
      console.log(`failover: stored answers cut off by the kill: ${JSON.stringify(cut.map((r) => [r.content.slice(0, 20), r.status]))}`);
    } finally {
      await database.close();
    }
  });
});

interface Seen {
  discord: FakeDiscord;
  slack: FakeSlack;
  matrix: UserClient;
  botId: string;
  room: string;
}

const relationOf = (e: SeenEvent): { rel_type?: string; event_id?: string } => (e.content['m.relates_to'] ?? {}) as { rel_type?: string; event_id?: string };
/** the bot's messages in the DM (not edits) */
const matrixAnswers = (seen: Seen): SeenEvent[] => seen.matrix.seen.filter((e) => e.roomId === seen.room && e.sender === seen.botId && e.type === 'm.room.message' && relationOf(e).rel_type !== 'm.replace');
/** what Ada sees of one bot message: its latest edit */
function shownText(seen: Seen, answer: SeenEvent): string {
  const edits = seen.matrix.seen.filter((e) => relationOf(e).rel_type === 'm.replace' && relationOf(e).event_id === answer.id);
  const last = edits[edits.length - 1];
  return last ? String((last.content['m.new_content'] as { body?: string } | undefined)?.body ?? '') : String(answer.content.body ?? '');
}
const shownMatrix = (seen: Seen, question: string): string[] => matrixAnswers(seen).map((e) => shownText(seen, e)).filter((t) => t.startsWith(`Echo: ${question}`));
const shownDiscord = (discord: FakeDiscord, question: string): string[] => discord.dmMessages(ADA).map((m) => m.content).filter((c) => c.startsWith(`Echo: ${question}`));
const shownSlack = (slack: FakeSlack, question: string): string[] => slack.allMessages(slack.channelId).filter((m) => m.bot_id && !m.deleted).map((m) => m.text).filter((t) => t.includes(`Echo: ${question}`));

/** answers to `question` whose whole text is shown, on its platform */
function finishedAnswers(seen: Seen, question: string): number {
  const whole = (t: string): boolean => t.replace(/\s+/g, ' ').includes(answerFor({ body: { messages: [{ role: 'user', content: question }] } }).replace(/\s+/g, ' '));
  if (question.startsWith('d-')) return shownDiscord(seen.discord, question).filter(whole).length;
  if (question.startsWith('m-')) return shownMatrix(seen, question).filter(whole).length;
  return shownSlack(seen.slack, question).filter(whole).length;
}

/** Waits until each question has one whole answer in its chat; says which have not when it gives up. */
async function answeredOnce(seen: Seen, questions: string[]): Promise<void> {
  try {
    await until(() => questions.every((q) => finishedAnswers(seen, q) === 1), PATIENT);
  } catch (err) {
    throw new Error(`${(err as Error).message}: whole answers ${JSON.stringify(Object.fromEntries(questions.map((q) => [q, finishedAnswers(seen, q)])))}`);
  }
}

/** answers to `question` posted so far, whole or not */
function startedAnswers(seen: Seen, question: string): number {
  return question.startsWith('d-') ? shownDiscord(seen.discord, question).length : shownMatrix(seen, question).length;
}
