import type { Writable } from 'node:stream';
import type { PostOptions, Reply, ReplyCapabilities } from '../../core/inbound.js';
import { paint, renderMarkdown, terminalRows } from './render.js';

/**
 * A fence line at the very end of a live text: while an answer streams, the core closes a code
 * block that is still open so that chat platforms render it, and moves that line down on the next
 * edit. A terminal cannot take back what it printed, so that line waits until more text follows
 * it or the message is done.
 */
const TRAILING_FENCE_LINE = /\n {0,3}(?:`{3,}|~{3,})[ \t]*$/;
const DEFAULT_COLUMNS = 80;
export const APPROVAL_PROMPT = 'approve? [y/N] ';

/** The terminal: a TTY gets colour and rendered Markdown, anything else plain text. */
export type ConsoleOutput = Writable & { isTTY?: boolean; columns?: number; rows?: number };

/**
 * A terminal cannot edit what it printed, so edits that extend a message print only the new
 * part; anything else (a footer rewrite, a branch switch) prints the message again. Each turn's
 * first line says who speaks. On a TTY a turn streams as raw text, and when it is done it is
 * replaced by its Markdown rendered for the terminal (unless it scrolled off the screen); piped,
 * the raw text stays: Markdown source reads well as plain text, and a pipe cannot take back what
 * it was given, so rendering would mean printing the answer twice or not streaming it.
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
  /** this turn's messages, in order, with their last text and the files they saved */
  private turn: { speaker: string; written: string; messages: Map<string, { text: string; notes: string[] }> } | null = null;
  private lastId: string | null = null;
  /** the last message's trailing fence line, not printed yet */
  private heldBack = '';
  private atLineStart = true;
  private counter = 0;
  /** the approval request waiting for the next line typed (a terminal has no buttons) */
  private approval: string | null = null;

  constructor(
    private readonly out: ConsoleOutput,
    private readonly saveFile: (file: NonNullable<PostOptions['file']>) => string,
  ) {}

  private get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  /** What follows is `speaker`'s (an Experience's name): its first line says so. */
  beginTurn(speaker: string): void {
    this.endLine();
    this.turn = { speaker, written: '', messages: new Map() };
  }

  /**
   * The turn is done: ends its line and, on a TTY, shows it rendered — unless something else
   * wrote to the screen meanwhile (keys typed while it streamed), so its rows are not known.
   */
  endTurn(screenUntouched = true): void {
    this.endLine();
    const turn = this.turn;
    this.turn = null;
    if (!turn || !turn.written || !this.tty || !screenUntouched) return;
    const columns = this.out.columns || DEFAULT_COLUMNS;
    const rows = terminalRows(turn.written, columns);
    // what scrolled off the top cannot be reached any more: then the raw text stays
    if (this.out.rows && rows >= this.out.rows) return;
    const rendered = [...turn.messages.values()].map((m) => [renderMarkdown(m.text, columns), ...m.notes.map(paint.dim)].join('\n')).join('\n\n');
    this.out.write(`\r\x1b[${rows}A\x1b[J${this.marker(turn.speaker)}${/^\s/.test(rendered) ? '\n' : ' '}${rendered}\n`);
  }

  private marker(speaker: string): string {
    return this.tty ? paint.bot(`${speaker} ›`) : `${speaker} ›`;
  }

  private write(text: string): void {
    if (!text) return;
    if (this.turn && !this.turn.written) text = `${this.marker(this.turn.speaker)} ${text}`;
    this.out.write(text);
    if (this.turn) this.turn.written += text;
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
    const message = this.turn?.messages.get(id);
    if (message) message.text = text;
    else this.turn?.messages.set(id, { text, notes: [] });
  }

  async post(text: string, options: PostOptions = {}): Promise<string> {
    const id = `c${++this.counter}`;
    this.endLine();
    this.show(id, text, '');
    if (options.file) {
      const note = `(saved ${this.saveFile(options.file)})`;
      this.endLine();
      this.write(note);
      this.turn?.messages.get(id)?.notes.push(note);
    }
    if (options.buttons?.some((b) => b.action === 'approve')) {
      this.approval = id;
      this.endLine();
      this.write(APPROVAL_PROMPT);
    }
    return id;
  }

  /** The approval request the next line answers, if one is open; taking it closes it. */
  takeApproval(): string | null {
    const id = this.approval;
    this.approval = null;
    return id;
  }

  async edit(messageId: string, text: string, options: PostOptions = {}): Promise<void> {
    // decided elsewhere (a timeout, Ctrl-C): the next line is a question again
    if (messageId === this.approval && options.buttons?.length === 0) this.approval = null;
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
