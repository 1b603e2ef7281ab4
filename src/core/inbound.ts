/**
 * The shapes an adapter and the core speak. Adapters live in src/bots/ and import these;
 * the core never imports an adapter.
 */

export type Platform = 'discord' | 'slack' | 'matrix' | 'console' | 'api' | (string & {});

export interface Author {
  id: string;
  name: string;
  isBot: boolean;
}

export interface Attachment {
  name: string;
  mimeType: string;
  /** base64 for images the adapter downloaded; null when only a URL is known */
  data: string | null;
  url: string | null;
  size: number | null;
}

/** A button or reaction on one of the bot's answers. */
export type ActionName = 'regen' | 'prev' | 'next' | 'stop';

export interface Inbound {
  platform: Platform;
  /** platform event id, for exactly-once handling */
  eventId: string;
  channelId: string;
  threadId: string | null;
  messageId: string;
  author: Author;
  text: string;
  attachments: Attachment[];
  /** platform message id this message replies to */
  replyTo: string | null;
  mentionsBot: boolean;
  isDirect: boolean;
  kind: 'message' | 'edit' | 'command' | 'action';
  /** for kind=command: the command name and its raw argument string */
  command?: { name: string; args: string };
  /** for kind=action: which action, on which platform message */
  action?: { name: ActionName; targetMessageId: string };
  /** adapter-asserted: the author is an admin (role, power level, config list) */
  authorIsAdmin?: boolean;
}

export type MarkdownDialect = 'commonmark' | 'slack-mrkdwn' | 'matrix-html' | 'plain';

export interface ReplyCapabilities {
  maxMessageLength: number;
  minEditIntervalMs: number;
  markdown: MarkdownDialect;
  buttons: boolean;
  threads: boolean;
  /** `private` posts are seen by the asking user alone (ephemeral messages, a DM, the console) */
  privateReplies?: boolean;
}

export interface ReplyButton {
  action: ActionName;
  label: string;
}

export interface PostOptions {
  /** visible only to the asking user, where the platform can (ephemeral) */
  private?: boolean;
  buttons?: ReplyButton[];
  /** a file to attach, e.g. an export */
  file?: { name: string; content: string; mimeType: string };
  /** the turn was refused (a rate limit, a spent budget) and may be tried again later: not a failure */
  refusal?: boolean;
}

/** What the core writes through. Methods resolve to platform message ids. */
export interface Reply {
  readonly capabilities: ReplyCapabilities;
  post(text: string, options?: PostOptions): Promise<string>;
  edit(messageId: string, text: string, options?: PostOptions): Promise<void>;
  typing(): Promise<void>;
  /** where the platform has threads: open one for this conversation and post there from now on */
  startThread?(title: string): Promise<string>;
  /** names the thread this reply opened, once the conversation has a generated title */
  setTitle?(title: string): Promise<void>;
}
