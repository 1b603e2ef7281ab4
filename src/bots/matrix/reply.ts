import type { PostOptions, Reply, ReplyButton, ReplyCapabilities } from '../../core/inbound.js';
import { markdownToHtml } from './format.js';
import { REACTION_FOR } from './inbound.js';

/**
 * Homeservers refuse events over 65,536 bytes. An edit carries the text twice (fallback and
 * `m.new_content`) plus its HTML, so answers are split well below that: 6,000 characters of
 * three-byte text still fit with their HTML.
 */
export const MATRIX_MESSAGE_LIMIT = 6_000;
const EVENT_BYTES_LIMIT = 65_536;
const FALLBACK_CHARS = 500;
/** an exported file in an encrypted room is shown inline: uploading it would leave it unencrypted on the server */
const INLINE_FILE_CHARS = 12_000;
const HINTED_MEMORY = 10_000;

/** What a reply needs of the Matrix client; the adapter implements it over matrix-js-sdk. */
export interface MatrixTransport {
  send(roomId: string, type: string, content: Record<string, unknown>): Promise<string>;
  typing(roomId: string): Promise<void>;
  /** uploads to the media repository, resolving to an mxc:// URL */
  upload(name: string, content: string, mimeType: string): Promise<string>;
  /** takes back one of the bot's own events (a hint reaction once its choice is made) */
  redact?(roomId: string, eventId: string): Promise<void>;
}

/** The bot's hint reactions per message it hinted: message id → the reaction events' ids. */
export type HintMemory = Map<string, string[]>;

export interface MatrixPlace {
  roomId: string;
  /** the thread answers go in; null in DMs and until a thread is started */
  threadRoot: string | null;
  /** the message a new thread is rooted at */
  sourceEventId: string | null;
  encrypted: boolean;
  isDirect: boolean;
}

function textContent(text: string): Record<string, unknown> {
  return {
    msgtype: 'm.text',
    body: text,
    format: 'org.matrix.custom.html',
    formatted_body: markdownToHtml(text),
    // model output names people; nobody is pinged by an answer
    'm.mentions': {},
  };
}

function byteLength(content: Record<string, unknown>): number {
  return Buffer.byteLength(JSON.stringify(content));
}

/** Answers in a room, inside the conversation's thread; streamed by `m.replace` edits. */
export class MatrixReply implements Reply {
  readonly capabilities: ReplyCapabilities;
  startThread?: (title: string) => Promise<string>;
  constructor(
    private readonly transport: MatrixTransport,
    private readonly place: MatrixPlace,
    editIntervalMs: number,
    /** messages that already carry the reaction hints, shared by the adapter's replies */
    private readonly hinted: HintMemory = new Map(),
  ) {
    const canThread = !place.isDirect && place.threadRoot === null && place.sourceEventId !== null;
    this.capabilities = { maxMessageLength: MATRIX_MESSAGE_LIMIT, minEditIntervalMs: editIntervalMs, markdown: 'commonmark', buttons: true, threads: canThread };
    if (canThread) {
      // a Matrix thread is the events related to its root: starting one costs no request
      this.startThread = async () => {
        this.place.threadRoot = this.place.sourceEventId;
        return this.place.sourceEventId!;
      };
    }
  }

  private threaded(content: Record<string, unknown>): Record<string, unknown> {
    const root = this.place.threadRoot;
    if (!root) return content;
    return { ...content, 'm.relates_to': { rel_type: 'm.thread', event_id: root, is_falling_back: true, 'm.in_reply_to': { event_id: root } } };
  }

  async post(text: string, options: PostOptions = {}): Promise<string> {
    if (options.file) return this.postFile(text, options.file);
    const id = await this.transport.send(this.place.roomId, 'm.room.message', this.threaded(textContent(text)));
    await this.hint(id, options.buttons);
    return id;
  }

  async edit(messageId: string, text: string, options: PostOptions = {}): Promise<void> {
    const replacement = textContent(text);
    const content: Record<string, unknown> = {
      msgtype: 'm.text',
      body: `* ${text}`,
      'm.new_content': replacement,
      'm.relates_to': { rel_type: 'm.replace', event_id: messageId },
      'm.mentions': {},
    };
    // clients that know edits read only m.new_content: the fallback may be shortened to fit
    if (byteLength(content) > EVENT_BYTES_LIMIT - 1024) content.body = `* ${text.slice(0, FALLBACK_CHARS)}…`;
    await this.transport.send(this.place.roomId, 'm.room.message', content);
    if (options.buttons?.length === 0) await this.unhint(messageId);
    else await this.hint(messageId, options.buttons);
  }

  async typing(): Promise<void> {
    await this.transport.typing(this.place.roomId);
  }

  /**
   * Matrix has no buttons: the bot reacts to a finished answer with the emoji a user can click
   * (🔁 regenerate, ◀️ ▶️ other branches; ✅ ❌ on an approval request). Once per message, so
   * edits add no events.
   */
  private async hint(messageId: string, buttons: ReplyButton[] | undefined): Promise<void> {
    if (!buttons?.length || buttons.some((b) => b.action === 'stop') || this.hinted.has(messageId)) return;
    if (this.hinted.size >= HINTED_MEMORY) this.hinted.clear();
    const reactions: string[] = [];
    this.hinted.set(messageId, reactions);
    for (const button of buttons) {
      if (button.action === 'stop') continue;
      const key = REACTION_FOR[button.action];
      try {
        reactions.push(await this.transport.send(this.place.roomId, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: messageId, key } }));
      } catch {
        // a hint is a convenience: the answer stands without it (e.g. the same reaction exists)
      }
    }
  }

  /**
   * The choice is made (an approval request decided): its hints go, as buttons do elsewhere, so
   * nobody reacts to a question that is no longer open.
   */
  private async unhint(messageId: string): Promise<void> {
    const reactions = this.hinted.get(messageId);
    if (!reactions || !this.transport.redact) return;
    this.hinted.delete(messageId);
    for (const reaction of reactions) await this.transport.redact(this.place.roomId, reaction).catch(() => undefined);
  }

  private async postFile(text: string, file: NonNullable<PostOptions['file']>): Promise<string> {
    if (this.place.encrypted) {
      const body = file.content.length > INLINE_FILE_CHARS ? `${file.content.slice(0, INLINE_FILE_CHARS)}\n…` : file.content;
      const note = file.content.length > INLINE_FILE_CHARS ? ' (the start of it: this room is encrypted, and an upload would not be)' : '';
      return this.transport.send(this.place.roomId, 'm.room.message', this.threaded(textContent(`${text}\n\n${file.name}${note}:\n~~~~\n${body}\n~~~~`)));
    }
    const url = await this.transport.upload(file.name, file.content, file.mimeType);
    await this.transport.send(this.place.roomId, 'm.room.message', this.threaded(textContent(text)));
    return this.transport.send(this.place.roomId, 'm.room.message', this.threaded({ msgtype: 'm.file', body: file.name, filename: file.name, url, info: { mimetype: file.mimeType, size: Buffer.byteLength(file.content) } }));
  }
}
