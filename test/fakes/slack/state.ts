/**
 * The fake workspace: users, channels, messages (users' and the bot's), files, ephemeral messages,
 * and the records tests read back (API calls, assistant calls, response_url posts, acks).
 */
import type {
  AckRecord, ApiCall, AssistantCall, EphemeralMessage, FakeChannel, FakeChannelOptions, FakeFile, FakeFileInput, FakeSlackOptions, FakeUser, ResponseUrlPost, StoredMessage,
} from './types.js';

const TS_BASE = 1_732_270_000;

export interface Identity {
  teamId: string;
  teamDomain: string;
  appId: string;
  botUserId: string;
  botId: string;
  botName: string;
  appToken: string;
  botToken: string;
  signingSecret: string;
}

export function identity(o: FakeSlackOptions): Identity {
  return {
    teamId: o.teamId ?? 'T0TLOOM001',
    teamDomain: o.teamDomain ?? 'threadloom-test',
    appId: o.appId ?? 'A0TLOOM001',
    botUserId: o.botUserId ?? 'U0TLBOT001',
    botId: o.botId ?? 'B0TLBOT001',
    botName: o.botName ?? 'threadloom',
    appToken: o.appToken ?? 'xapp-1-A0TLOOM001-1-fakeapptoken',
    botToken: o.botToken ?? 'xoxb-1-fake-bot-token',
    signingSecret: o.signingSecret ?? 'fake-signing-secret-0123456789abcdef',
  };
}

export class SlackState {
  readonly users = new Map<string, FakeUser>();
  readonly channelNames = new Map<string, string>();
  /** conversations added on purpose; others are guessed from their id (see `channel`) */
  readonly channels = new Map<string, FakeChannel>();
  readonly files = new Map<string, FakeFile>();
  readonly stored: StoredMessage[] = [];
  readonly ephemerals: EphemeralMessage[] = [];
  readonly calls: ApiCall[] = [];
  readonly assistantCalls: AssistantCall[] = [];
  readonly responseUrlPosts: ResponseUrlPost[] = [];
  readonly acks: AckRecord[] = [];
  /** the file downloads asked for, with the token they carried (`undefined`: none) */
  /** `channel/thread_ts` of assistant threads (they exist before anyone writes in them) */
  readonly assistantThreads = new Set<string>();
  readonly fileFetches: { fileId: string; token: string | undefined; status: number }[] = [];
  private tsCounter = 0;
  private idCounter = 0;

  constructor(readonly id: Identity) {
    this.users.set(id.botUserId, { id: id.botUserId, name: id.botName, realName: 'Threadloom', displayName: 'Threadloom', isBot: true });
    this.addUser({ id: 'U0ALICE001', name: 'alice', realName: 'Alice Example', displayName: 'Alice' });
    this.addUser({ id: 'U0BOB00001', name: 'bob', realName: 'Bob Example', displayName: 'bobby' });
    this.addChannel('C0GENERAL1', 'general');
  }

  addChannel(id: string, name: string, options: FakeChannelOptions = {}): FakeChannel {
    const kind = options.kind ?? 'public';
    const channel: FakeChannel = { id, name, kind, members: options.members ? [...options.members] : kind === 'public' ? null : [this.id.botUserId] };
    this.channels.set(id, channel);
    this.channelNames.set(id, name);
    return channel;
  }

  /** A DM between the bot and `user`. */
  addIm(id: string, user: string): FakeChannel {
    const channel: FakeChannel = { id, name: id, kind: 'im', members: [user, this.id.botUserId], user };
    this.channels.set(id, channel);
    return channel;
  }

  /**
   * The conversation `id`: one added, or else a `D…` id is a DM with the default user (so tests
   * can talk in DMs without adding them); other unknown ids are no conversation.
   */
  channel(id: string): FakeChannel | undefined {
    const known = this.channels.get(id);
    if (known) return known;
    if (this.isIm(id)) return { id, name: id, kind: 'im', members: ['U0ALICE001', this.id.botUserId], user: 'U0ALICE001' };
    return undefined;
  }

  /** who is in `channel` now */
  membersOf(channel: FakeChannel): string[] {
    return channel.members ? [...channel.members] : [...this.users.keys()];
  }

  /** `1732270000.000100`, `1732270000.000200`, … (increasing, like Slack's message timestamps) */
  nextTs(): string {
    this.tsCounter += 1;
    const micros = this.tsCounter * 100;
    return `${TS_BASE + Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  }

  /** Slack-like ids: `Ev0…`, `F0…`, `C0…` */
  nextId(prefix: string, length = 10): string {
    this.idCounter += 1;
    return `${prefix}0${this.idCounter.toString(36).toUpperCase().padStart(length - prefix.length - 1, '0')}`;
  }

  addUser(u: Partial<FakeUser> & { name: string }): FakeUser {
    const user: FakeUser = { id: u.id ?? this.nextId('U'), name: u.name, realName: u.realName ?? u.name, displayName: u.displayName ?? '', isBot: u.isBot ?? false, ...(u.guest ? { guest: u.guest } : {}) };
    this.users.set(user.id, user);
    return user;
  }

  addFile(input: FakeFileInput, baseUrl: string): FakeFile {
    const id = this.nextId('F');
    const content = typeof input.content === 'string' ? Buffer.from(input.content) : input.content;
    const mimetype = input.mimetype ?? 'text/plain';
    const url = `${baseUrl}files-pri/${this.id.teamId}-${id}/${encodeURIComponent(input.name)}`;
    const file: FakeFile = {
      id, name: input.name, title: input.name, mimetype, filetype: input.name.split('.').pop() ?? 'text', size: content.length, content,
      url_private: url, url_private_download: `${url}?download=1`,
    };
    this.files.set(id, file);
    return file;
  }

  isIm(channel: string): boolean {
    return channel.startsWith('D');
  }

  store(m: Omit<StoredMessage, 'updates' | 'history' | 'deleted' | 'reply_count'>): StoredMessage {
    const message: StoredMessage = { ...m, updates: 0, history: [], deleted: false, reply_count: 0 };
    this.stored.push(message);
    if (m.thread_ts && m.thread_ts !== m.ts) {
      const parent = this.find(m.channel, m.thread_ts);
      if (parent) {
        parent.reply_count += 1;
        parent.thread_ts ??= parent.ts;
      }
    }
    return message;
  }

  find(channel: string, ts: string): StoredMessage | undefined {
    return this.stored.find((m) => m.channel === channel && m.ts === ts && !m.deleted);
  }

  /** The thread's parent and replies, oldest first (`conversations.replies`). */
  thread(channel: string, ts: string): StoredMessage[] {
    return this.stored
      .filter((m) => m.channel === channel && !m.deleted && (m.ts === ts || m.thread_ts === ts))
      .sort((a, b) => Number(a.ts) - Number(b.ts));
  }

  /** The bot's live messages in `channel` (in one thread when `threadTs` is given). */
  botMessages(channel: string, threadTs?: string): StoredMessage[] {
    return this.stored.filter(
      (m) => m.channel === channel && !m.deleted && m.user === this.id.botUserId && (threadTs === undefined || m.thread_ts === threadTs || (m.ts === threadTs && !m.thread_ts)),
    );
  }
}

/** A Slack message object (as in `conversations.replies`, events and `chat.postMessage`). */
export function messageJson(m: StoredMessage, teamId: string, appId: string): Record<string, unknown> {
  return {
    type: 'message',
    user: m.user,
    text: m.text,
    ts: m.ts,
    team: teamId,
    ...(m.bot_id ? { bot_id: m.bot_id, app_id: appId } : {}),
    ...(m.blocks ? { blocks: m.blocks } : {}),
    ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
    ...(m.thread_ts === m.ts && m.reply_count > 0 ? { reply_count: m.reply_count } : {}),
    ...(m.metadata ? { metadata: m.metadata } : {}),
    ...(m.files ? { files: m.files.map(fileJson), upload: false } : {}),
    ...(m.updates > 0 ? { edited: { user: m.user, ts: m.ts } } : {}),
  };
}

export function fileJson(f: FakeFile): Record<string, unknown> {
  const { content: _content, ...rest } = f;
  return { ...rest, mode: 'hosted', is_external: false, pretty_type: f.filetype };
}
