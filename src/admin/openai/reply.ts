import type { PostOptions, Reply, ReplyCapabilities } from '../../core/inbound.js';

/**
 * The core's Reply for an OpenAI-style client: the renderer's post and edits become the text
 * the client receives, sent as deltas (only what was added). Private posts are the engine's
 * notices (a refusal, a failure): they are kept apart, for the HTTP status and error.
 */
export class ApiReply implements Reply {
  readonly capabilities: ReplyCapabilities = { maxMessageLength: 1_000_000, minEditIntervalMs: 0, markdown: 'commonmark', buttons: false, threads: false, appendOnly: true };
  readonly notices: string[] = [];
  /** the engine said the turn was refused (rate limit, budget), not failed */
  refused = false;
  private shown = '';
  private posts = 0;
  private markAnswered: () => void = () => undefined;
  /** resolves when the answer is saved and written: the response may end, the turn may still be naming the conversation */
  readonly whenAnswered = new Promise<void>((resolve) => (this.markAnswered = resolve));

  constructor(private readonly onDelta: (delta: string) => void = () => undefined) {}

  get text(): string {
    return this.shown;
  }

  async post(text: string, options: PostOptions = {}): Promise<string> {
    if (options.refusal) this.refused = true;
    if (options.private) this.notices.push(text);
    else this.advance(this.posts === 0 ? text : `${this.shown}\n\n${text}`);
    this.posts++;
    return `api-${this.posts}`;
  }

  async edit(_messageId: string, text: string): Promise<void> {
    this.advance(text);
  }

  async typing(): Promise<void> {}

  answered(): void {
    this.markAnswered();
  }

  /** Text only grows for a client that already has a prefix: anything else is left as it was. */
  private advance(text: string): void {
    if (!text.startsWith(this.shown) || text === this.shown) return;
    const delta = text.slice(this.shown.length);
    this.shown = text;
    this.onDelta(delta);
  }
}
