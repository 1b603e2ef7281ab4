import { writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseCommandText } from '../../core/commands/run.js';
import type { Engine } from '../../core/engine.js';
import type { Inbound } from '../../core/inbound.js';
import { OPEN_DIRECTORY } from '../../core/search/directory.js';
import type { AdapterStatus, ChatAdapter } from '../adapter.js';
import { ConsoleReply } from './reply.js';

export interface ConsoleAdapterOptions {
  engine: Engine;
  experienceSlug: string;
  input?: Readable;
  output?: Writable;
  userName?: string;
  /** where `export` writes its files */
  exportDir?: string;
}

export const CONSOLE_PLATFORM = 'console';

/**
 * A terminal chat on the same engine: type to talk, `/command` for commands, Ctrl-C stops an
 * answer being written (a second Ctrl-C at an empty prompt quits).
 */
export function createConsoleAdapter(options: ConsoleAdapterOptions): ChatAdapter & { done: Promise<void>; interrupt(): void } {
  const { engine } = options;
  const output = options.output ?? process.stdout;
  const input = options.input ?? process.stdin;
  const channelId = `terminal-${options.experienceSlug}`;
  const author = { id: process.env.USER ?? 'you', name: options.userName ?? process.env.USER ?? 'you', isBot: false };
  const reply = new ConsoleReply(output, (file) => {
    const target = path.resolve(options.exportDir ?? '.', file.name);
    writeFileSync(target, file.content);
    return target;
  });
  let rl: readline.Interface | null = null;
  let counter = 0;
  let busy = false;
  let queue: Promise<void> = Promise.resolve();
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  async function handleLine(line: string): Promise<void> {
    const text = line.trim();
    if (!text) return;
    const command = parseCommandText(text, '/');
    const id = `${Date.now()}-${++counter}`;
    const inbound: Inbound = {
      platform: CONSOLE_PLATFORM,
      eventId: `${process.pid}-${id}`,
      channelId,
      threadId: null,
      messageId: id,
      author,
      text,
      attachments: [],
      replyTo: null,
      mentionsBot: true,
      isDirect: true,
      kind: command ? 'command' : 'message',
      ...(command ? { command } : {}),
      authorIsAdmin: true,
    };
    busy = true;
    try {
      await engine.handle(inbound, reply);
    } finally {
      busy = false;
      reply.endLine();
    }
  }

  async function stopCurrent(): Promise<void> {
    const conversation = await engine.deps.conversations.findActive({ platform: CONSOLE_PLATFORM, channelId, threadId: null });
    if (conversation) engine.turns.stop(conversation.id);
  }

  /** Ctrl-C: stops the answer being written; at an idle prompt, quits. */
  function interrupt(): void {
    if (busy) void stopCurrent();
    else rl?.close();
  }

  return {
    platform: CONSOLE_PLATFORM,
    done,
    interrupt,
    async start() {
      const experience = await engine.deps.experiences.require(options.experienceSlug);
      await engine.deps.db
        .insertInto('bindings')
        .values({ platform: CONSOLE_PLATFORM, channel_id: channelId, experience_id: experience.id, model_override: null })
        .onConflict((oc) => oc.columns(['platform', 'channel_id']).doUpdateSet({ experience_id: experience.id }))
        .execute();
      engine.directories.set(CONSOLE_PLATFORM, OPEN_DIRECTORY);
      output.write(`Threadloom · ${experience.name} (${experience.slug}). Type to chat, /help for commands, Ctrl-C to stop an answer, Ctrl-D to quit.\n`);
      // in a terminal, readline turns Ctrl-C into its SIGINT event; piped, the process gets the signal
      const terminal = Boolean((input as { isTTY?: boolean }).isTTY && (output as { isTTY?: boolean }).isTTY);
      rl = readline.createInterface({ input, output, terminal });
      rl.on('line', (line) => {
        queue = queue.then(() => handleLine(line)).catch((err) => {
          output.write(`error: ${String(err)}\n`);
        });
      });
      rl.on('SIGINT', interrupt);
      if (!terminal && input === process.stdin) process.on('SIGINT', interrupt);
      rl.on('close', () => {
        process.off('SIGINT', interrupt);
        void queue.then(resolveDone);
      });
    },
    async stop() {
      engine.directories.delete(CONSOLE_PLATFORM);
      rl?.close();
      await stopCurrent();
      await queue;
    },
    status(): AdapterStatus {
      return { connected: rl !== null, detail: 'terminal' };
    },
  };
}
