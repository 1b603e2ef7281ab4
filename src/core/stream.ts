/**
 * Renders a streaming answer into chat messages: throttled edits within the platform's rate,
 * one request at a time, long answers continued in new messages, and a final flush that
 * leaves every message with its finished text.
 */
import { RateLimitError } from './errors.js';
import type { PostOptions, Reply, ReplyButton } from './inbound.js';
import { MIN_SPLIT_LENGTH, splitFirst, splitMessage } from './split.js';

export const DEFAULT_TYPING_INTERVAL_MS = 8000;
export const NO_ANSWER_TEXT = '(no answer)';
const MAX_RETRY_DELAY_MS = 30_000;
const MIN_RETRY_DELAY_MS = 250;
const NON_BLANK = /\S/;
const LEADING_BLANK_LINES = /^(?:[ \t]*\r?\n)+/;

/** The timers the renderer uses; tests pass a fake one. */
export interface StreamScheduler {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface StreamRendererOptions {
  /**
   * Wait this long after the first text before the first post: an answer that is complete by then
   * is posted once, final, instead of posted and edited (fewer writes against platform limits).
   */
  firstPostDelayMs?: number;
  /** buttons shown while the answer is being written (e.g. Stop); removed when it is final */
  liveButtons?: ReplyButton[];
  /** defaults to the reply's `capabilities.minEditIntervalMs` */
  minEditIntervalMs?: number;
  typingIntervalMs?: number;
  now?: () => number;
  scheduler?: StreamScheduler;
  /** shown after the text while the answer is still coming, e.g. ' ▌' */
  cursor?: string;
  /** false: `setStatus` shows nothing (a reply that can only grow) */
  statusLines?: boolean;
}

export interface FinishOptions {
  /** a short last line, e.g. `— answered by openai/gpt-4o-mini` */
  footer?: string;
  buttons?: ReplyButton[];
}

export interface RenderedAnswer {
  messageIds: string[];
  /** the answer as the model wrote it, without cursor or footer */
  text: string;
}

const realTimers: StreamScheduler = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface PendingWrite {
  text: string;
  /** the live message gets its last text; `rest` continues in a new message */
  finalizes: boolean;
  rest: string;
  tailLength: number;
}

export class StreamRenderer {
  private readonly maxLength: number;
  private readonly minEditIntervalMs: number;
  private readonly typingIntervalMs: number;
  private readonly now: () => number;
  private readonly scheduler: StreamScheduler;
  private readonly cursor: string;
  private readonly liveButtons: ReplyButton[] | null;
  private readonly firstPostDelayMs: number;
  private readonly statusLines: boolean;
  private sawText = false;
  /** a line shown under the live text while something runs (a tool), gone in the final text */
  private status: string | null = null;

  private answer = '';
  /** Markdown still to show: the live message's text and whatever follows it */
  private tail = '';
  private readonly finalMessageIds: string[] = [];
  private live: { id: string; shown: string } | null = null;
  private inFlight: Promise<void> | null = null;
  private flushTimer: { handle: unknown } | null = null;
  private typingTimer: { handle: unknown } | null = null;
  private nextWriteAt = Number.NEGATIVE_INFINITY;
  /** after a failure, when the platform may be asked again; finish waits for it too */
  private retryAt = Number.NEGATIVE_INFINITY;
  private failures = 0;
  private finished: Promise<RenderedAnswer> | null = null;

  constructor(
    private readonly reply: Reply,
    options: StreamRendererOptions = {},
  ) {
    this.maxLength = reply.capabilities.maxMessageLength;
    if (!(this.maxLength >= MIN_SPLIT_LENGTH)) {
      throw new RangeError(`capabilities.maxMessageLength must be at least ${MIN_SPLIT_LENGTH}, got ${this.maxLength}`);
    }
    this.minEditIntervalMs = options.minEditIntervalMs ?? reply.capabilities.minEditIntervalMs;
    this.typingIntervalMs = options.typingIntervalMs ?? DEFAULT_TYPING_INTERVAL_MS;
    this.now = options.now ?? Date.now;
    this.scheduler = options.scheduler ?? realTimers;
    this.cursor = options.cursor ?? '';
    this.liveButtons = options.liveButtons?.length ? options.liveButtons : null;
    this.firstPostDelayMs = options.firstPostDelayMs ?? 0;
    this.statusLines = options.statusLines ?? true;
  }

  /** Platform message ids of this answer so far, in order. */
  get messageIds(): string[] {
    return this.live ? [...this.finalMessageIds, this.live.id] : [...this.finalMessageIds];
  }

  /** Shows "typing…" until the first text arrives. */
  start(): void {
    if (this.typingTimer || this.finished || NON_BLANK.test(this.answer)) return;
    const sendTyping = () => {
      // Typing is only a hint: a failure is not worth a retry or an error.
      attempt(() => this.reply.typing()).catch(() => undefined);
      this.typingTimer = { handle: this.scheduler.setTimeout(sendTyping, this.typingIntervalMs) };
    };
    sendTyping();
  }

  push(delta: string): void {
    if (this.finished || delta === '') return;
    this.answer += delta;
    this.tail += delta;
    if (!this.live && this.finalMessageIds.length === 0) this.tail = this.tail.replace(LEADING_BLANK_LINES, '');
    if (!NON_BLANK.test(this.tail)) return;
    if (!this.sawText) {
      this.sawText = true;
      this.nextWriteAt = this.now() + this.firstPostDelayMs;
    }
    this.stopTyping();
    this.scheduleFlush();
  }

  /**
   * Shows `line` under the text written so far (or alone, before any text) until it is replaced
   * or cleared; the final text never has it. For what happens between the model's words: a tool
   * running.
   */
  setStatus(line: string | null): void {
    if (this.finished || this.status === line || !this.statusLines) return;
    this.status = line;
    if (line !== null && !this.sawText) {
      this.sawText = true;
      this.nextWriteAt = this.now() + this.firstPostDelayMs;
    }
    if (line !== null) this.stopTyping();
    this.scheduleFlush();
  }

  /** Gives up without writing anything more (the turn failed before an answer): stops typing and timers. */
  abandon(): void {
    this.finished ??= Promise.resolve({ messageIds: this.messageIds, text: this.answer });
    this.stopTyping();
    if (this.flushTimer) this.scheduler.clearTimeout(this.flushTimer.handle);
    this.flushTimer = null;
  }

  /** Writes the final text of every message now; rejects only if a final write fails twice. */
  finish(options: FinishOptions = {}): Promise<RenderedAnswer> {
    this.finished ??= this.finishNow(options);
    return this.finished;
  }

  private async finishNow(options: FinishOptions): Promise<RenderedAnswer> {
    this.stopTyping();
    if (this.flushTimer) this.scheduler.clearTimeout(this.flushTimer.handle);
    this.flushTimer = null;
    await this.inFlight;
    await this.sleep(this.retryAt - this.now());
    const chunks = this.finalChunks(options.footer);
    for (const [index, text] of chunks.entries()) {
      const buttons = index === chunks.length - 1 && options.buttons?.length ? options.buttons : null;
      // a message that showed live buttons loses them unless it is the last and gets its own
      await this.writeFinal(text, buttons ? { buttons } : this.liveButtons ? { buttons: [] } : undefined);
    }
    return { messageIds: this.messageIds, text: this.answer };
  }

  private finalChunks(footer: string | undefined): string[] {
    const chunks = NON_BLANK.test(this.tail) ? splitMessage(this.tail, this.maxLength) : [];
    if (footer) {
      const last = chunks.pop();
      chunks.push(...splitMessage(last === undefined ? footer : `${last}\n\n${footer}`, this.maxLength));
    }
    // a live post that only ever showed a status line still needs its final text
    if (chunks.length === 0 && (this.messageIds.length === 0 || this.live)) chunks.push(NO_ANSWER_TEXT);
    return chunks;
  }

  private async writeFinal(text: string, options: PostOptions | undefined): Promise<void> {
    const live = this.live;
    const unchanged = live !== null && live.shown === text && !options;
    const id = unchanged
      ? live.id
      : await this.retryOnce(async () => {
          if (!live) return this.reply.post(text, options);
          await this.reply.edit(live.id, text, options);
          return live.id;
        });
    this.finalMessageIds.push(id);
    this.live = null;
  }

  private async retryOnce<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await attempt(write);
    } catch (error) {
      this.failures++;
      await this.sleep(this.retryDelay(error));
      return attempt(write);
    }
  }

  private scheduleFlush(): void {
    if (this.finished || this.flushTimer || this.inFlight || !this.nextWrite()) return;
    const delay = Math.max(0, this.nextWriteAt - this.now());
    // due now (a platform without an edit interval, such as an API client): written at once, not
    // after a timer, which would wait until the stream's chunks already read had all been pushed
    if (delay === 0) return this.flush();
    const handle = this.scheduler.setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, delay);
    this.flushTimer = { handle };
  }

  private flush(): void {
    const write = this.finished ? null : this.nextWrite();
    if (!write) return;
    this.nextWriteAt = this.now() + this.minEditIntervalMs;
    this.inFlight = this.send(write)
      .then(
        () => {
          this.failures = 0;
          this.retryAt = Number.NEGATIVE_INFINITY;
        },
        (error: unknown) => {
          this.failures++;
          this.retryAt = this.now() + this.retryDelay(error);
          this.nextWriteAt = this.retryAt;
        },
      )
      .finally(() => {
        this.inFlight = null;
        this.scheduleFlush();
      });
  }

  private async send(write: PendingWrite): Promise<void> {
    const live = this.live;
    const options = this.liveButtons ? { buttons: write.finalizes ? [] : this.liveButtons } : undefined;
    let id: string;
    if (!live) id = await attempt(() => this.reply.post(write.text, options));
    else {
      if (live.shown !== write.text || (write.finalizes && options)) await attempt(() => this.reply.edit(live.id, write.text, options));
      id = live.id;
    }
    if (!write.finalizes) {
      this.live = { id, shown: write.text };
      return;
    }
    this.finalMessageIds.push(id);
    this.live = null;
    this.tail = write.rest + this.tail.slice(write.tailLength);
  }

  /** What the chat should show next, or null when it already shows it. */
  private nextWrite(): PendingWrite | null {
    if (!NON_BLANK.test(this.tail)) {
      if (this.status === null) return null;
      const text = this.status.slice(0, this.maxLength);
      return this.live?.shown === text ? null : { text, finalizes: false, rest: '', tailLength: this.tail.length };
    }
    const first = splitFirst(this.tail, this.maxLength);
    if (first.rest !== '') {
      return { text: first.chunk, finalizes: true, rest: first.rest, tailLength: this.tail.length };
    }
    const suffix = this.cursor + (this.status === null ? '' : `\n\n${this.status}`);
    const withCursor = suffix ? splitFirst(this.tail + suffix, this.maxLength) : first;
    const text = withCursor.rest === '' ? withCursor.chunk : first.chunk;
    if (this.live?.shown === text) return null;
    return { text, finalizes: false, rest: '', tailLength: this.tail.length };
  }

  private retryDelay(error: unknown): number {
    if (error instanceof RateLimitError) return Math.min(Math.max(error.retryAfterMs, 0), MAX_RETRY_DELAY_MS);
    const base = Math.max(this.minEditIntervalMs, MIN_RETRY_DELAY_MS);
    return Math.min(base * 2 ** Math.max(this.failures - 1, 0), MAX_RETRY_DELAY_MS);
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.scheduler.setTimeout(resolve, ms));
  }

  private stopTyping(): void {
    if (this.typingTimer) this.scheduler.clearTimeout(this.typingTimer.handle);
    this.typingTimer = null;
  }
}

/** Runs a platform call so that a synchronous throw becomes a rejection too. */
function attempt<T>(call: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve) => resolve(call()));
}
