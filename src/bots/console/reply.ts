import type { Writable } from 'node:stream';
import type { PostOptions, Reply, ReplyCapabilities } from '../../core/inbound.js';

/**
 * A fence line at the very end of a live text: while an answer streams, the core closes a code
 * block that is still open so that chat platforms render it, and moves that line down on the next
 * edit. A terminal cannot take back what it printed, so that line waits until more text follows
 * it or the message is done.
 */
const TRAILING_FENCE_LINE = /\n {0,3}(?:`{3,}|~{3,})[ \t]*$/;

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
  /** per message, the text on the screen (without a held-back fence line) */
  private readonly printed = new Map<string, string>();
  private lastId: string | null = null;
  /** the last message's trailing fence line, not printed yet */
  private heldBack = '';
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

  /** The last message is done: prints what it held back and ends its line. */
  endLine(): void {
    this.write(this.heldBack);
    this.heldBack = '';
    if (!this.atLineStart) this.write('\n');
  }

  /** Prints `text` as message `id`, which the screen shows up to `shown`, holding back a trailing fence line. */
  private show(id: string, text: string, shown: string): void {
    const fence = TRAILING_FENCE_LINE.exec(text);
    const upTo = fence ? fence.index : text.length;
    this.heldBack = text.slice(upTo);
    this.write(text.slice(shown.length, upTo));
    this.printed.set(id, text.slice(0, upTo));
    this.lastId = id;
  }

  async post(text: string, options: PostOptions = {}): Promise<string> {
    const id = `c${++this.counter}`;
    this.endLine();
    this.show(id, text, '');
    if (options.file) {
      this.endLine();
      this.write(`(saved ${this.saveFile(options.file)})`);
    }
    return id;
  }

  async edit(messageId: string, text: string): Promise<void> {
    const before = this.printed.get(messageId) ?? '';
    if (messageId === this.lastId && text.startsWith(before)) {
      this.show(messageId, text, before);
    } else {
      this.heldBack = '';
      this.endLine();
      this.show(messageId, text, '');
    }
  }

  async typing(): Promise<void> {}
}
