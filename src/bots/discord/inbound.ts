import type { Attachment as DiscordAttachment, Message, PartialMessage } from 'discord.js';
import { attachmentFetchLimit } from '../../core/context/attachments.js';
import type { Attachment, Inbound } from '../../core/inbound.js';
import { isAdministrator, placeFacts } from './access.js';

export const DISCORD = 'discord';

/** Largest image fetched to show a vision model, and text file read into the message; bigger ones travel as a note. */
const IMAGE_FETCH_TIMEOUT_MS = 10_000;

/** Where a message lives: a thread belongs to its parent channel, which carries the binding. */
export function placeOf(message: Message | PartialMessage): { channelId: string; threadId: string | null; isDirect: boolean } {
  const channel = message.channel;
  if (channel.isThread()) return { channelId: channel.parentId ?? channel.id, threadId: channel.id, isDirect: false };
  return { channelId: channel.id, threadId: null, isDirect: channel.isDMBased() };
}

export function stripMention(content: string, botId: string): string {
  return content.replace(new RegExp(`<@!?${botId}>`, 'g'), '').trim();
}

export async function attachmentsOf(message: Message): Promise<Attachment[]> {
  return attachmentsFrom([...message.attachments.values()]);
}

/** Downloads what the core reads (images, text, PDF, Word) within its size limits; the rest stays a URL. */
export async function attachmentsFrom(files: DiscordAttachment[]): Promise<Attachment[]> {
  return Promise.all(
    files.map(async (a) => {
      const mimeType = a.contentType?.split(';')[0] ?? 'application/octet-stream';
      let data: string | null = null;
      const limit = attachmentFetchLimit({ name: a.name, mimeType });
      if (a.size <= limit) {
        try {
          const response = await fetch(a.url, { signal: AbortSignal.timeout(IMAGE_FETCH_TIMEOUT_MS) });
          if (response.ok) data = Buffer.from(await response.arrayBuffer()).toString('base64');
        } catch {
          // the file stays a URL; the model is told it was attached
        }
      }
      return { name: a.name, mimeType, data, url: a.url, size: a.size };
    }),
  );
}

/** The message as an `Inbound`, attachments not yet fetched (`attachmentsOf`, once it is admitted). */
export function messageInbound(message: Message, botId: string, kind: 'message' | 'edit'): Inbound {
  const place = placeOf(message);
  return {
    platform: DISCORD,
    // an edit is a new event each time it changes
    eventId: kind === 'edit' ? `edit:${message.id}:${message.editedTimestamp ?? 0}` : `message:${message.id}`,
    ...place,
    messageId: message.id,
    author: { id: message.author.id, name: message.member?.displayName ?? message.author.displayName ?? message.author.username, isBot: message.author.bot },
    text: stripMention(message.content, botId),
    attachments: [],
    replyTo: message.reference?.messageId ?? null,
    mentionsBot: message.mentions.users.has(botId),
    isDirect: place.isDirect,
    kind,
    authorIsAdmin: isAdministrator(message.member),
    place: placeFacts(message.guildId, message.member),
  };
}
