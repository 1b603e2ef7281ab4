import type { Writable } from 'node:stream';
import type { PostOptions, Reply, ReplyCapabilities } from '../../core/inbound.js';

/**
 * A terminal cannot edit what it printed, so edits that extend a message print only the new
 * part; anything else (a footer rewrite, a branch switch) prints the message again.
 */
export class ConsoleReply implements Reply {
  readonly capabilities: ReplyCapabilities = {
    maxMessageLength: 100_000,
    minEditIntervalMs: 30,
    markdown: 'plain',
    buttons: false,
    threads: false,
    privateReplies: true,
  };
  private readonly printed = new Map<string, string>();
  private lastId: string | null = null;
  private atLineStart = true;
  private counter = 0;

  constructor(
    private readonly out: Writable,
    private readonly saveFile: (file: NonNullable<PostOptions['file']>) => string,
  ) {}

  private write(text: string): void {
    if (!text) return;
    this.out.write(text);
    this.atLineStart = text.endsWith('\n');
  }

  endLine(): void {
    if (!this.atLineStart) this.write('\n');
  }

  async post(text: string, options: PostOptions = {}): Promise<string> {
    const id = `c${++this.counter}`;
    this.endLine();
    this.write(text);
    if (options.file) this.write(`\n(saved ${this.saveFile(options.file)})`);
    this.printed.set(id, text);
    this.lastId = id;
    return id;
  }

  async edit(messageId: string, text: string): Promise<void> {
    const before = this.printed.get(messageId) ?? '';
    if (messageId === this.lastId && text.startsWith(before)) {
      this.write(text.slice(before.length));
    } else {
      this.endLine();
      this.write(text);
      this.lastId = messageId;
    }
    this.printed.set(messageId, text);
  }

  async typing(): Promise<void> {}
}
