/** Shapes shared by the fake Slack's parts, and what tests read back from it. */

export type Transport = 'socket' | 'http';
export type Json = Record<string, unknown>;

/** `chat.update` limit per message: a token bucket (`burst` updates at once, `perSecond` sustained). */
export interface UpdateLimit {
  perSecond: number;
  burst: number;
}

export interface FakeSlackOptions {
  teamId?: string;
  teamDomain?: string;
  appId?: string;
  botUserId?: string;
  botId?: string;
  botName?: string;
  appToken?: string;
  botToken?: string;
  signingSecret?: string;
  /** `chat.update` limit per message; `false` turns it off (default 1/s sustained, burst 3) */
  updateLimit?: UpdateLimit | false;
  /** the clock the update limit refills by (default `Date.now`): a frozen one makes a test's 429s independent of the machine's speed */
  now?: () => number;
  /** also deliver a `message` event (with `bot_id`) for each message the bot posts, as Slack does */
  echoBotMessages?: boolean;
}

export interface FakeUser {
  id: string;
  name: string;
  realName: string;
  displayName: string;
  isBot?: boolean;
  /** a guest: `multi` (is_restricted) or `single` channel (is_ultra_restricted) */
  guest?: 'multi' | 'single';
}

/** A conversation the workspace knows: what `conversations.info` and `conversations.members` answer. */
export interface FakeChannel {
  id: string;
  name: string;
  kind: 'public' | 'private' | 'im' | 'mpim';
  /** who is in it, the bot included when it is; `null`: everyone in the workspace */
  members: string[] | null;
  /** an IM's person */
  user?: string;
}

export interface FakeChannelOptions {
  /** default `public` */
  kind?: 'public' | 'private' | 'mpim';
  /** default: everyone (public), else the bot only */
  members?: string[];
}

export interface FakeFile {
  id: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  size: number;
  content: Buffer;
  url_private: string;
  url_private_download: string;
}
export interface FakeFileInput {
  name: string;
  content: string | Buffer;
  mimetype?: string;
}

/** A message as stored: what the bot posted (and users said), with the fake's bookkeeping. */
export interface StoredMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  user: string;
  bot_id?: string;
  text: string;
  blocks?: unknown[];
  metadata?: unknown;
  files?: FakeFile[];
  /** successful `chat.update`s */
  updates: number;
  /** texts this message had before each update */
  history: string[];
  deleted: boolean;
  reply_count: number;
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  text: string;
  blocks?: unknown[];
  thread_ts?: string;
  message_ts: string;
}

export interface ApiCall {
  method: string;
  token: string | undefined;
  args: Json;
  status: number;
  ok: boolean;
  error?: string;
  at: number;
}

export interface AssistantCall {
  method: 'setStatus' | 'setTitle' | 'setSuggestedPrompts';
  channel_id: string;
  thread_ts: string;
  status?: string;
  title?: string;
  prompts?: unknown;
  at: number;
}

export interface ResponseUrlPost {
  /** what the response_url was issued for */
  kind: 'slash' | 'action';
  url: string;
  body: Json;
  at: number;
}

/** The app's answer to one delivery: a Socket Mode ack or the HTTP response. */
export interface AckRecord {
  transport: Transport;
  kind: 'events_api' | 'slash_commands' | 'interactive';
  envelopeId?: string;
  eventId?: string;
  status?: number;
  payload: unknown;
  at: number;
}

export interface UserSaysInput {
  channel?: string;
  text: string;
  user?: string;
  threadTs?: string;
  mentionsBot?: boolean;
  files?: FakeFileInput[];
  channelType?: 'channel' | 'im';
}

export interface SlashCommandInput {
  command?: string;
  text: string;
  channel?: string;
  user?: string;
  /** where an `in_channel` response lands (Slack sends no thread_ts in the payload) */
  threadTs?: string;
}

export interface ClickButtonInput {
  messageTs: string;
  channel?: string;
  actionId: string;
  value?: string;
  user?: string;
  blockId?: string;
}
