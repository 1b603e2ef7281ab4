/**
 * One driver per platform for the bot conformance suite: the same few things a person does
 * (mention, follow up, press a button or react, edit, be redelivered), each through the real
 * adapter and SDK against that platform's fake.
 */
import type { ActionName, Inbound, Reply } from '../../src/core/inbound.js';
import { createMatrixAdapter, type MatrixAdapter } from '../../src/bots/matrix/index.js';
import { REACTION_FOR } from '../../src/bots/matrix/inbound.js';
import { startAdapter, stopAdapter } from '../../src/core/runtime.js';
import type { Config } from '../../src/core/config.js';
import { startFakeMatrix, type StoredEvent } from '../fakes/matrix/index.js';
import { GENERAL, startDiscordWorld } from '../support/discord.js';
import { adapterContext, startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { startSlackWorld } from '../support/slack.js';
import { PATIENT_ROUTING, until } from '../support/wait.js';

export interface Answer {
  id: string;
  /** what the message shows now */
  text: string;
}

export interface Driver {
  rt: TestRuntime;
  /** event ids the adapter handed to the engine, in order (redeliveries show twice) */
  handled: string[];
  /** someone mentions the bot in a shared channel; returns the message's id */
  mention(text: string, as?: 'tester' | 'outsider'): string;
  /** the thread a mention's answer lives in; null while there is none */
  threadOf(mentionId: string): string | null;
  /** a message in the thread, without a mention; returns its id */
  say(thread: string, text: string): string;
  /** the bot's answers in the thread, oldest first */
  answers(thread: string): Answer[];
  press(thread: string, answerId: string, action: ActionName): Promise<void>;
  edit(thread: string, messageId: string, text: string): void;
  /** the platform delivers its latest events again (a resumed gateway, a retried webhook, a resync) */
  redeliver(thread: string): Promise<void>;
  close(): Promise<void>;
}

/** `allowTesterOnly`: the platform's allowlist names the tester alone, so the outsider is refused. */
export interface DriverOptions {
  allowTesterOnly?: boolean;
}

export interface Subject {
  label: string;
  start(options?: DriverOptions): Promise<Driver>;
}

/** Counts what reaches the engine: the adapter calls `engine.handle` on the runtime's engine. */
function recordHandled(rt: TestRuntime): string[] {
  const handled: string[] = [];
  const handle = rt.engine.handle.bind(rt.engine);
  rt.engine.handle = (inbound: Inbound, reply: Reply) => {
    handled.push(inbound.eventId);
    return handle(inbound, reply);
  };
  return handled;
}

const OUTSIDER_DISCORD = '100000000000000555';

const discord: Subject = {
  label: 'discord',
  async start(options = {}) {
    const world = await startDiscordWorld();
    const { discord: fake, rt } = world;
    // the allowlist is read at each event, as when it is saved in the admin web
    if (options.allowTesterOnly) rt.deps.config.discord.allow.users.push(fake.defaultUserId);
    return {
      rt,
      handled: recordHandled(rt),
      mention: (text, as = 'tester') =>
        fake.userSays({ channelId: GENERAL, content: `<@${fake.botUserId}> ${text}`, mentionsBot: true, ...(as === 'outsider' ? { authorId: OUTSIDER_DISCORD } : {}) }),
      // a thread opened from a message has that message's id
      threadOf: (id) => fake.threads.find((t) => t.starterMessageId === id)?.id ?? null,
      say: (thread, text) => fake.userSays({ channelId: thread, content: text }),
      answers: (thread) => fake.messagesIn(thread).filter((m) => !m.deleted && !m.ephemeral).map((m) => ({ id: m.id, text: m.content })),
      async press(thread, answerId, action) {
        fake.interaction({ type: 'button', channelId: thread, messageId: answerId, customId: `tl:${action}` });
      },
      edit: (_thread, messageId, text) => fake.userEdits(messageId, text),
      async redeliver() {
        // discord.js drops a redelivered message it still caches; as after a restart, it has none
        for (const channel of world.adapter.client.channels.cache.values()) if (channel.isTextBased()) channel.messages.cache.clear();
        await fake.dropConnection({ code: 4000, redeliver: 1000 });
        await fake.nextSession();
      },
      close: () => world.close(),
    };
  },
};

const slack: Subject = {
  label: 'slack',
  async start(options = {}) {
    const world = await startSlackWorld('socket');
    const { slack: fake, rt } = world;
    if (options.allowTesterOnly) rt.deps.config.slack.allow.users.push(fake.userId);
    return {
      rt,
      handled: recordHandled(rt),
      mention: (text, as = 'tester') => fake.userSays({ text: `<@${fake.botUserId}> ${text}`, mentionsBot: true, ...(as === 'outsider' ? { user: 'U0OUTSIDER' } : {}) }),
      // the answer goes in the mention's own thread
      threadOf: (ts) => ts,
      say: (thread, text) => fake.userSays({ text, threadTs: thread }),
      answers: (thread) => fake.messages(fake.channelId, thread).filter((m) => m.user === fake.botUserId).map((m) => ({ id: m.ts, text: m.text })),
      async press(_thread, answerId, action) {
        await fake.clickButton({ messageTs: answerId, actionId: `tl_${action}` });
      },
      edit: (_thread, messageId, text) => void fake.userEdits(fake.channelId, messageId, text),
      async redeliver() {
        await fake.redeliver(fake.eventIds.at(-1)!, 3);
        await fake.idle();
      },
      close: () => world.close(),
    };
  },
};

const relation = (e: StoredEvent) => ((e.content as Record<string, unknown>)['m.relates_to'] ?? {}) as { rel_type?: string; event_id?: string };
const MATRIX_REACTIONS: Record<ActionName, string> = { ...REACTION_FOR, stop: '⏹️' };

const matrix: Subject = {
  label: 'matrix',
  async start(options = {}) {
    const mx = await startFakeMatrix();
    const bot = mx.registerUser('threadloom', { displayName: 'Threadloom' });
    const alice = mx.registerUser('alice', { displayName: 'Alice' });
    const mallory = mx.registerUser('mallory');
    const rt = await startTestRuntime({
      config: (c): Config => ({
        ...c,
        routing: { ...c.routing, ...PATIENT_ROUTING },
        limits: { ...c.limits, userTurnsPerMinute: 600 },
        matrix: {
          ...c.matrix, homeserverURL: mx.url, accessToken: bot.accessToken, deviceId: bot.deviceId, storeKey: 'a fast-test store key',
          allow: { ...c.matrix.allow, users: options.allowTesterOnly ? [alice.userId] : [] },
        },
      }),
    });
    let adapter: MatrixAdapter = createMatrixAdapter(adapterContext(rt), { encryption: false });
    await startAdapter(rt.engine, adapter);
    const roomId = mx.createRoom(alice.userId, { name: 'ops', invite: [bot.userId], join: [mallory.userId] });
    await until(() => mx.membership(roomId, bot.userId) === 'join');
    const fromBot = () => mx.events(roomId).filter((e) => e.sender === bot.userId);
    const shown = (id: string): string => {
      const last = fromBot().filter((e) => relation(e).rel_type === 'm.replace' && relation(e).event_id === id).at(-1);
      const content = (last ? (last.content as { 'm.new_content': unknown })['m.new_content'] : mx.event(id)!.content) as { body: string };
      return String(content.body);
    };
    return {
      rt,
      handled: recordHandled(rt),
      mention: (text, as = 'tester') => mx.say(roomId, as === 'tester' ? alice.userId : mallory.userId, `Threadloom: ${text}`, { mentions: [bot.userId] }),
      // the thread is rooted at the question
      threadOf: (eventId) => eventId,
      say: (thread, text) => mx.say(roomId, alice.userId, text, { thread }),
      answers: (thread) =>
        fromBot()
          .filter((e) => e.type === 'm.room.message' && relation(e).rel_type === 'm.thread' && relation(e).event_id === thread)
          .map((e) => ({ id: e.event_id, text: shown(e.event_id) })),
      async press(_thread, answerId, action) {
        mx.react(roomId, alice.userId, answerId, MATRIX_REACTIONS[action]);
      },
      edit: (_thread, messageId, text) => void mx.edit(roomId, alice.userId, messageId, text),
      // a restarted client syncs from scratch: the recent timeline arrives again
      async redeliver() {
        await stopAdapter(rt.engine, adapter);
        adapter = createMatrixAdapter(adapterContext(rt), { encryption: false });
        await startAdapter(rt.engine, adapter);
      },
      async close() {
        await stopAdapter(rt.engine, adapter);
        await rt.shutdown();
        await mx.close();
      },
    };
  },
};

export const subjects: Subject[] = [discord, slack, matrix];
