import { attachmentFetchLimit } from '../../core/context/attachments.js';
import type { Attachment, Inbound } from '../../core/inbound.js';
import { messageKey } from './reply.js';

export const SLACK = 'slack';
/** in a thread, where slash commands cannot reach, `!tl model x` works as `/tl model x` */
export const TEXT_COMMAND_PREFIX = '!tl';

const FETCH_TIMEOUT_MS = 10_000;

export interface SlackFile {
  name?: string;
  mimetype?: string;
  size?: number;
  url_private?: string;
}

/** The fields of a Slack message event this adapter reads. */
export interface SlackMessage {
  channel: string;
  user?: string;
  bot_id?: string;
  text?: string;
  ts: string;
  thread_ts?: string;
  channel_type?: string;
  subtype?: string;
  files?: SlackFile[];
  edited?: { ts: string };
}

/** Files are private to the workspace: fetched with the bot token. */
export async function attachmentsOf(files: SlackFile[] | undefined, botToken: string): Promise<Attachment[]> {
  return Promise.all(
    (files ?? []).map(async (f) => {
      const mimeType = f.mimetype ?? 'application/octet-stream';
      const name = f.name ?? 'file';
      const size = f.size ?? null;
      const limit = attachmentFetchLimit({ name, mimeType });
      let data: string | null = null;
      if (f.url_private && (size ?? 0) <= limit && limit > 0) {
        try {
          const response = await fetch(f.url_private, { headers: { Authorization: `Bearer ${botToken}` }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
          if (response.ok) data = Buffer.from(await response.arrayBuffer()).toString('base64');
        } catch {
          // the model is told a file was attached
        }
      }
      return { name, mimeType, data, url: f.url_private ?? null, size };
    }),
  );
}

export function isDirectChannel(message: Pick<SlackMessage, 'channel' | 'channel_type'>): boolean {
  return message.channel_type === 'im' || (message.channel_type === undefined && message.channel.startsWith('D'));
}

/** The message as an `Inbound`, its files not yet downloaded (`attachmentsOf`, once it is admitted). */
export function messageInbound(message: SlackMessage, options: { botUserId: string; kind: 'message' | 'edit' }): Inbound {
  const mention = `<@${options.botUserId}>`;
  const raw = message.text ?? '';
  const text = raw.split(mention).join('').trim();
  const commandMatch = text.startsWith(`${TEXT_COMMAND_PREFIX} `) || text === TEXT_COMMAND_PREFIX ? /^!tl\s*(\S+)?\s*([\s\S]*)$/.exec(text) : null;
  const base: Inbound = {
    platform: SLACK,
    // the app_mention and message copies of one message, and Slack's retries, share this id
    eventId: options.kind === 'edit' ? `edit:${message.channel}:${message.ts}:${message.edited?.ts ?? ''}` : `message:${message.channel}:${message.ts}`,
    channelId: message.channel,
    threadId: message.thread_ts && message.thread_ts !== message.ts ? message.thread_ts : null,
    messageId: messageKey(message.channel, message.ts),
    author: { id: message.user ?? 'unknown', name: message.user ?? 'unknown', isBot: Boolean(message.bot_id) },
    text,
    attachments: [],
    replyTo: null,
    mentionsBot: raw.includes(mention),
    isDirect: isDirectChannel(message),
    kind: options.kind,
  };
  if (commandMatch && options.kind === 'message') {
    return { ...base, kind: 'command', command: { name: (commandMatch[1] ?? 'help').toLowerCase(), args: commandMatch[2]!.trim() } };
  }
  return base;
}
