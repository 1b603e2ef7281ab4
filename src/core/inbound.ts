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

/**
 * Platform facts the core's admission decides by (src/core/turns/admission.ts): the adapter
 * reports them, the core decides who may act and what is answered.
 */
export interface InboundPlace {
  /** the Discord guild; null in a DM and on platforms without servers */
  guildId: string | null;
  /** the author's role ids there (Discord) */
  roles: string[];
  /** the server the author's account lives on (Matrix: `example.org` of `@ada:example.org`) */
  authorServer: string | null;
}

/** A button or reaction on one of the bot's answers. */
/** What a button (a reaction on Matrix) under a post asks for; approve/deny answer a tool's approval request. */
export const ACTION_NAMES = ['regen', 'prev', 'next', 'stop', 'approve', 'deny'] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

export function isActionName(name: string): name is ActionName {
  return (ACTION_NAMES as readonly string[]).includes(name);
}

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
  /** platform-asserted: the author administers this place (Discord Administrator, Matrix power 100); configured admins are the core's */
  authorIsAdmin?: boolean;
  /** the facts admission needs; absent on platforms that admit everyone (console, api) */
  place?: InboundPlace;
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
  /**
   * The reply only ever grows (an API client's stream): no status lines that come and go, and
   * no person reading it who could approve a tool, so `confirm` tools are not offered.
   */
  appendOnly?: boolean;
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
  /**
   * The answer is saved and its last write is done; what the turn does after (naming a new
   * conversation) changes nothing the reader sees. An API client's response can end here.
   */
  answered?(): void;
}

/** What admission looks at; an invite (no message yet) is judged on the same facts. */
export type Admittee = Pick<Inbound, 'platform' | 'channelId' | 'isDirect' | 'author' | 'place'>;

/** admitted; the person may not act here (allowlists); or the message is not for this place (unbound channel) */
export type Admission = 'admitted' | 'not-allowed' | 'not-here';

export interface ChatPlace {
  channelId: string;
  threadId: string | null;
}

export interface Greeting {
  personaName: string;
  prompts: string[];
}

/**
 * The engine as an adapter sees it: hand it events, and ask it a few named questions. Nothing
 * else of the core (its database, its turns) is an adapter's business.
 */
export interface ChatEngine {
  /** admits and answers one platform event; never throws for what a user sent */
  handle(inbound: Inbound, reply: Reply): Promise<void>;
  /** what `handle` would decide about this event's place and person, without handling it */
  admit(inbound: Inbound): Promise<Admission>;
  /** the allowlists alone: before a costly step (decrypting) or for an invite */
  mayAct(who: Admittee): boolean;
  /** conversations of the platform active since then: where a catch-up looks for missed messages */
  activePlaces(platform: string, since: Date, limit: number): Promise<ChatPlace[]>;
  /** whether a conversation lives in this thread */
  isConversationThread(platform: string, channelId: string, threadId: string): Promise<boolean>;
  /** the default Experience's greeting, for assistant panels */
  greeting(): Promise<Greeting>;
  /** values to suggest while a command's argument is typed */
  suggestions(kind: 'model' | 'experience'): Promise<string[]>;
  /** binds the place to an Experience by slug */
  useExperience(platform: string, channelId: string, slug: string): Promise<{ name: string; slug: string }>;
}
