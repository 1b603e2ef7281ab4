import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { parseCommandText } from '../../core/commands/run.js';
import type { ChatEngine, Inbound } from '../../core/inbound.js';
import { OPEN_DIRECTORY } from '../../core/search/directory.js';
import type { AdapterStatus, ChatAdapter } from '../adapter.js';
import { attachmentsOfLine } from './attach.js';
import { paint } from './render.js';
import { ConsoleReply, type ConsoleOutput } from './reply.js';

export interface ConsoleAdapterOptions {
  engine: ChatEngine;
  experienceSlug: string;
  input?: Readable;
  /** a TTY gets a prompt, colour and rendered Markdown; anything else plain text */
  output?: ConsoleOutput;
  userName?: string;
  /** where `export` writes its files (created when missing); the working directory by default */
  exportDir?: string;
  /** the conversation this chat continues, said at the start so nobody resumes one unawares */
  resumed?: ResumedConversation;
}

export interface ResumedConversation {
  title: string | null;
  messages: number;
  /** the conversation's own `/model` choice, when it has one */
  modelOverride: string | null;
}

export const CONSOLE_PLATFORM = 'console';

/** The place a terminal chat with an Experience talks in: one per Experience. */
export function consoleChannelId(experienceSlug: string): string {
  return `terminal-${experienceSlug}`;
}

function resumedLine(resumed: ResumedConversation): string {
  const model = resumed.modelOverride ? `model ${resumed.modelOverride}` : "the Experience's model";
  return `Resuming “${resumed.title ?? 'untitled'}” (${resumed.messages} messages, ${model}) — /new for a fresh one.`;
}
/** who speaks for Threadloom in the terminal; the person's lines follow the `you ›` prompt */
const BOT_SPEAKER = 'threadloom';
const PROMPT = 'you › ';
const CTRL_C = '\x03';
const APPROVING = new Set(['y', 'yes', 'approve', '/approve']);

/**
 * A terminal chat on the same engine: type to talk after `you ›`, `/command` for commands, Ctrl-C
 * stops an answer being written (a second Ctrl-C at an empty prompt quits). What Threadloom says
 * follows `threadloom ›`; how it looks on a TTY and in a pipe is `ConsoleReply`'s business.
 */
export function createConsoleAdapter(options: ConsoleAdapterOptions): ChatAdapter & { done: Promise<void>; interrupt(): void } {
  const { engine } = options;
  const output = options.output ?? process.stdout;
  const input = options.input ?? process.stdin;
  const channelId = consoleChannelId(options.experienceSlug);
  const author = { id: process.env.USER ?? 'you', name: options.userName ?? process.env.USER ?? 'you', isBot: false };
  const reply = new ConsoleReply(output, (file) => {
    const dir = path.resolve(options.exportDir ?? '.');
    mkdirSync(dir, { recursive: true });
    const target = path.join(dir, file.name);
    writeFileSync(target, file.content);
    return target;
  });
  let rl: readline.Interface | null = null;
  let counter = 0;
  let busy = false;
  /** keys typed while an answer was written: the terminal echoed them among its lines */
  let typedWhileBusy = false;
  let closed = false;
  let queue: Promise<void> = Promise.resolve();
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  function inboundOf(text: string, command: Inbound['command'] | null, action?: Inbound['action']): Inbound {
    const id = `${Date.now()}-${++counter}`;
    return {
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
      kind: action ? 'action' : command ? 'command' : 'message',
      ...(command ? { command } : {}),
      ...(action ? { action } : {}),
      authorIsAdmin: true,
    };
  }

  async function handleLine(line: string): Promise<void> {
    const text = line.trim();
    if (!text) return;
    const command = parseCommandText(text, '/');
    const said = command ? { text, attachments: [] } : await attachmentsOfLine(text);
    const inbound = { ...inboundOf(said.text, command), attachments: said.attachments };
    busy = true;
    typedWhileBusy = false;
    reply.beginTurn(BOT_SPEAKER);
    try {
      await engine.handle(inbound, reply);
    } finally {
      busy = false;
      reply.endTurn(!typedWhileBusy);
    }
  }

  /**
   * The line answering the approval request on the screen: y/yes (or approve) runs the tool,
   * anything else denies it. It is handled at once: the turn waiting for it holds the queue.
   */
  async function answerApproval(requestId: string, line: string): Promise<void> {
    const approve = APPROVING.has(line.trim().toLowerCase());
    await engine.handle(inboundOf(line.trim(), null, { name: approve ? 'approve' : 'deny', targetMessageId: requestId }), reply);
  }

  /** a `stop` command like any other platform's: the engine finds what this place is writing */
  async function stopCurrent(): Promise<void> {
    await engine.handle(inboundOf('/stop', { name: 'stop', args: '' }), reply);
  }

  /** Ctrl-C: stops the answer being written; at an idle prompt, quits. */
  function interrupt(): void {
    if (busy) void stopCurrent();
    else rl?.close();
  }

  return {
    platform: CONSOLE_PLATFORM,
    directory: OPEN_DIRECTORY,
    done,
    interrupt,
    async start() {
      const experience = await engine.useExperience(CONSOLE_PLATFORM, channelId, options.experienceSlug);
      output.write(`Threadloom · ${experience.name} (${experience.slug}). Type to chat (@path attaches a file), /help for commands, Ctrl-C to stop an answer, Ctrl-D to quit.\n`);
      if (options.resumed) output.write(`${resumedLine(options.resumed)}\n`);
      // in a terminal, readline turns Ctrl-C into its SIGINT event; piped, the process gets the signal
      const terminal = Boolean((input as { isTTY?: boolean }).isTTY && (output as { isTTY?: boolean }).isTTY);
      rl = readline.createInterface({ input, output, terminal, prompt: terminal ? paint.you(PROMPT) : PROMPT });
      const prompt = () => {
        if (terminal && !closed) rl?.prompt();
      };
      rl.on('line', (line) => {
        const approval = reply.takeApproval();
        if (approval) {
          void answerApproval(approval, line).catch((err) => output.write(`error: ${String(err)}\n`));
          return;
        }
        queue = queue
          .then(() => handleLine(line))
          .catch((err) => {
            output.write(`error: ${String(err)}\n`);
          })
          .then(prompt);
      });
      prompt();
      input.on('data', (keys: Buffer | string) => {
        // Ctrl-C (stop) is not echoed
        if (busy && String(keys) !== CTRL_C) typedWhileBusy = true;
      });
      rl.on('SIGINT', interrupt);
      if (!terminal && input === process.stdin) process.on('SIGINT', interrupt);
      rl.on('close', () => {
        closed = true;
        process.off('SIGINT', interrupt);
        void queue.then(resolveDone);
      });
    },
    async stop() {
      rl?.close();
      if (busy) await stopCurrent();
      await queue;
    },
    status(): AdapterStatus {
      return { connected: rl !== null, detail: 'terminal' };
    },
  };
}
