import type { webApi } from '@slack/bolt';
import type { PostOptions, Reply, ReplyButton, ReplyCapabilities } from '../../core/inbound.js';
import { markdownToMrkdwn } from './format.js';

/**
 * Slack rejects a section block over 3,000 characters and long plain text as msg_too_long; the
 * renderer splits answers below this, leaving room for what mrkdwn conversion adds (&amp;, links).
 */
export const SLACK_MESSAGE_LIMIT = 2_800;
export const ACTION_PREFIX = 'tl_';

/** Slack's `ts` is unique only within a channel: platform message ids carry both. */
export function messageKey(channel: string, ts: string): string {
  return `${channel}:${ts}`;
}

function splitKey(key: string): { channel: string; ts: string } {
  const at = key.lastIndexOf(':');
  return { channel: key.slice(0, at), ts: key.slice(at + 1) };
}

function blocks(text: string, buttons: ReplyButton[] | undefined) {
  if (!buttons?.length) return undefined;
  return [
    { type: 'section', text: { type: 'mrkdwn', text } },
    {
      type: 'actions',
      elements: buttons.map((b) => ({ type: 'button', text: { type: 'plain_text', text: b.label }, action_id: `${ACTION_PREFIX}${b.action}`, value: b.action })),
    },
  ];
}

export interface SlackPlace {
  channel: string;
  /** the thread answers go in: the mention's own ts for a new conversation */
  threadTs: string | null;
  /** the user a private answer is shown to */
  userId: string;
  /** the message that started it, a thread can be rooted at */
  sourceTs: string | null;
}

/** Answers in a Slack thread; private answers are ephemeral to the asking user. */
export class SlackReply implements Reply {
  readonly capabilities: ReplyCapabilities;
  startThread?: (title: string) => Promise<string>;
  /** set by the Assistant surface: its status line stands in for typing, its title for the thread's */
  setStatus: ((status: string) => Promise<void>) | null = null;
  setTitle?: (title: string) => Promise<void>;

  constructor(
    private readonly client: webApi.WebClient,
    private readonly place: SlackPlace,
    editIntervalMs: number,
  ) {
    const canThread = place.threadTs === null && place.sourceTs !== null;
    this.capabilities = { maxMessageLength: SLACK_MESSAGE_LIMIT, minEditIntervalMs: editIntervalMs, markdown: 'slack-mrkdwn', buttons: true, threads: canThread, privateReplies: true };
    if (canThread) {
      // in Slack a thread is just replies to a message: rooting it costs no call
      this.startThread = async () => {
        this.place.threadTs = this.place.sourceTs;
        return this.place.sourceTs!;
      };
    }
  }

  async post(text: string, options: PostOptions = {}): Promise<string> {
    const mrkdwn = markdownToMrkdwn(text);
    const threadTs = this.place.threadTs ?? undefined;
    if (options.private) {
      const result = await this.client.chat.postEphemeral({ channel: this.place.channel, user: this.place.userId, text: mrkdwn, thread_ts: threadTs });
      return messageKey(this.place.channel, `ephemeral-${result.message_ts ?? Date.now()}`);
    }
    if (options.file) return this.postFile(mrkdwn, options.file, threadTs);
    const result = await this.client.chat.postMessage({
      channel: this.place.channel,
      thread_ts: threadTs,
      text: mrkdwn,
      blocks: blocks(mrkdwn, options.buttons),
      unfurl_links: false,
      unfurl_media: false,
    });
    return messageKey(this.place.channel, result.ts!);
  }

  /** A file upload; where the app may not upload (no files:write), the start of it inline. */
  private async postFile(comment: string, file: NonNullable<PostOptions['file']>, threadTs: string | undefined): Promise<string> {
    try {
      const upload = { channel_id: this.place.channel, filename: file.name, content: file.content, initial_comment: comment, ...(threadTs ? { thread_ts: threadTs } : {}) };
      await this.client.files.uploadV2(upload as webApi.FilesUploadV2Arguments);
      return messageKey(this.place.channel, `file-${Date.now()}`);
    } catch {
      const room = SLACK_MESSAGE_LIMIT - comment.length - 80;
      const body = file.content.length > room ? `${file.content.slice(0, room)}\n…` : file.content;
      const result = await this.client.chat.postMessage({ channel: this.place.channel, thread_ts: threadTs, text: `${comment}\n_${file.name} (uploading files is not allowed for this app; the start of it follows)_\n\`\`\`\n${body}\n\`\`\`` });
      return messageKey(this.place.channel, result.ts!);
    }
  }

  async edit(messageId: string, text: string, options: PostOptions = {}): Promise<void> {
    const { channel, ts } = splitKey(messageId);
    const mrkdwn = markdownToMrkdwn(text);
    // without blocks Slack keeps the old ones: an empty list removes the buttons
    await this.client.chat.update({ channel, ts, text: mrkdwn, blocks: options.buttons === undefined ? undefined : (blocks(mrkdwn, options.buttons) ?? []) });
  }

  async typing(): Promise<void> {
    await this.setStatus?.('is thinking…');
  }
}
