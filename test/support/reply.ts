import type { Inbound, PostOptions, Reply, ReplyCapabilities } from '../../src/core/inbound.js';

export interface RecordedMessage {
  id: string;
  text: string;
  options: PostOptions;
  edits: number;
  private: boolean;
}

/** A Reply that keeps what a user would see: each message's current text, and every call. */
export class RecordingReply implements Reply {
  readonly capabilities: ReplyCapabilities;
  readonly messages: RecordedMessage[] = [];
  readonly threads: string[] = [];
  typingCalls = 0;
  private counter = 0;

  constructor(capabilities: Partial<ReplyCapabilities> = {}, withThreads = false) {
    this.capabilities = { maxMessageLength: 2000, minEditIntervalMs: 0, markdown: 'commonmark', buttons: true, threads: withThreads, ...capabilities };
    if (withThreads) this.startThread = async (title: string) => {
      this.threads.push(title);
      return `thread-${this.threads.length}`;
    };
  }

  startThread?: (title: string) => Promise<string>;

  async post(text: string, options: PostOptions = {}): Promise<string> {
    const id = `m${++this.counter}`;
    this.messages.push({ id, text, options, edits: 0, private: options.private === true });
    return id;
  }

  async edit(messageId: string, text: string, options: PostOptions = {}): Promise<void> {
    const message = this.messages.find((m) => m.id === messageId);
    if (!message) throw new Error(`edit of unknown message ${messageId}`);
    message.text = text;
    message.options = { ...message.options, ...options };
    message.edits++;
  }

  async typing(): Promise<void> {
    this.typingCalls++;
  }

  /** Everything visible, public messages only, joined. */
  get transcript(): string {
    return this.messages.filter((m) => !m.private).map((m) => m.text).join('\n');
  }

  last(): RecordedMessage {
    const message = this.messages[this.messages.length - 1];
    if (!message) throw new Error('nothing was posted');
    return message;
  }
}

let events = 0;

/** An inbound chat message from user `ada` in a DM unless overridden. */
export function inbound(text: string, overrides: Partial<Inbound> = {}): Inbound {
  const n = ++events;
  return {
    platform: 'test',
    eventId: `evt-${n}`,
    channelId: 'dm-ada',
    threadId: null,
    messageId: `user-msg-${n}`,
    author: { id: 'ada', name: 'Ada', isBot: false },
    text,
    attachments: [],
    replyTo: null,
    mentionsBot: false,
    isDirect: true,
    kind: 'message',
    ...overrides,
  };
}

export function command(name: string, args = '', overrides: Partial<Inbound> = {}): Inbound {
  return inbound(`/${name} ${args}`.trim(), { kind: 'command', command: { name, args }, ...overrides });
}
