/** `FakeDiscord`: the server object tests hold, with gateway helpers and assertion helpers. */
import * as actors from './actors.js';
import { emit, INTENT, isThread, type Core } from './core.js';
import { FakeGateway, shardOf, type Dispatch, type Shard } from './gateway.js';
import { FakeHttp } from './http.js';
import { snowflake } from './ids.js';
import { attachmentPayload, channelPayload, guildCreatePayload, userPayload } from './payloads.js';
import { EditLimiter } from './ratelimit.js';
import { FakeState, overwriteOf } from './state.js';
import type {
  DmSaysInput, DropOptions, FakeChannelInput, FakeDiscordOptions, FakeMemberInput, FakeOverwriteInput, FakeGuild, FakeInteractionHandle, FakeInteractionInput,
  FakeInteractionResponse, FakeSentMessage, FakeThread, FakeUser, RecordedRest, RegisteredCommand, UserSaysInput,
} from './types.js';
import { appRoutes } from './routes-app.js';
import { channelRoutes } from './routes-channels.js';

export class FakeDiscord {
  /** base URL for discord.js `rest.api` (`http://127.0.0.1:PORT/api`) */
  apiUrl = '';
  /** websocket URL the fake answers in `GET /gateway/bot` */
  gatewayUrl = '';
  readonly interactionResponses: FakeInteractionResponse[] = [];
  private readonly state: FakeState;
  private readonly gateway: FakeGateway;
  private readonly http: FakeHttp;
  private readonly limiter: EditLimiter;
  private readonly core: Core;

  constructor(options: FakeDiscordOptions = {}) {
    this.state = new FakeState(options);
    const state = this.state;
    this.gateway = new FakeGateway(
      {
        ready: (sessionId, shard) => ({
          v: 10,
          user: { ...userPayload(state.bot), verified: true, mfa_enabled: false, email: null },
          guilds: [...state.guilds.keys()].filter((id) => shardOf(id, shard[1]) === shard[0]).map((id) => ({ id, unavailable: true })),
          session_id: sessionId,
          resume_gateway_url: this.gatewayUrl,
          shard,
          application: { id: state.applicationId, flags: 0 },
          private_channels: [],
          relationships: [],
          presences: [],
          guild_join_requests: [],
          user_settings: {},
          geo_ordered_rtc_regions: [],
          _trace: ['["fake-discord",{"micros":0}]'],
        }),
        guildCreates: ([id, count]) => [...state.guilds.values()].filter((g) => shardOf(g.id, count) === id).map((g) => guildCreatePayload(state, g)),
      },
      options.heartbeatIntervalMs ?? 41_250,
      options.token,
    );
    const limit = options.editLimit ?? {};
    this.limiter = new EditLimiter(limit.limit ?? 5, limit.windowMs ?? 5_000, limit.advertise ?? false);
    this.core = { state, gateway: this.gateway, recommendedShards: options.shards ?? 1, limiter: this.limiter, interactionResponses: this.interactionResponses, interactionTimeoutMs: options.interactionTimeoutMs ?? 3_000 };
    this.http = new FakeHttp(this.gateway, (channelId, id) => this.findAttachment(channelId, id), options.token);
    channelRoutes(this.http, this.core);
    appRoutes(this.http, this.core);
  }

  async listen(): Promise<this> {
    const base = await this.http.listen();
    this.state.baseUrl = base;
    this.apiUrl = `${base}/api`;
    this.gatewayUrl = base.replace(/^http/, 'ws');
    this.gateway.url = this.gatewayUrl;
    return this;
  }

  async close(): Promise<void> {
    await this.gateway.close();
    await this.http.close();
  }

  // ---- state -------------------------------------------------------------------------------

  get botUser(): FakeUser {
    return this.state.bot;
  }
  get botUserId(): string {
    return this.state.bot.id;
  }
  get applicationId(): string {
    return this.state.applicationId;
  }
  /** the default human ("alice") */
  get defaultUserId(): string {
    return this.state.defaultUserId;
  }
  /** first guild's id */
  get guildId(): string {
    return this.state.guilds.keys().next().value!;
  }
  /** first text channel's id */
  get channelId(): string {
    return this.state.defaultChannelId();
  }
  guildIds(): string[] {
    return [...this.state.guilds.keys()];
  }
  channelIds(guildId?: string): string[] {
    return [...this.state.channels.values()].filter((c) => c.guildId !== null && (!guildId || c.guildId === guildId)).map((c) => c.id);
  }
  addUser(user: { id?: string; username: string }): FakeUser {
    return this.state.ensureUser(user.id ?? snowflake(), user.username);
  }
  /** Adds a guild; a connected bot gets its GUILD_CREATE. Returns the guild id. */
  addGuild(guild: FakeGuild): string {
    const state = this.state.addGuild(guild);
    emit(this.core, 'GUILD_CREATE', guildCreatePayload(this.state, state));
    return state.id;
  }
  /** Adds a channel or thread; a connected bot gets CHANNEL_CREATE / THREAD_CREATE. Returns its id. */
  addChannel(guildId: string, channel: FakeChannelInput): string {
    const state = this.state.addChannel(guildId, channel);
    emit(this.core, isThread(state) ? 'THREAD_CREATE' : 'CHANNEL_CREATE', channelPayload(this.state, state), INTENT.Guilds);
    return state.id;
  }
  /** Adds (or updates) a guild member; Discord tells the bot only with the GuildMembers intent, so nothing is dispatched. */
  addMember(guildId: string, member: FakeMemberInput): void {
    const guild = this.state.requireGuild(guildId);
    this.state.ensureUser(member.userId, member.username);
    const state = this.state.ensureMember(guild, member.userId);
    if (member.roles) state.roles = [...member.roles];
    if (member.nick !== undefined) state.nick = member.nick;
  }
  /** The member leaves the guild (no dispatch, as for `addMember`). */
  removeMember(guildId: string, userId: string): void {
    this.state.requireGuild(guildId).members.delete(userId);
  }
  /** Replaces a channel's permission overwrites; a connected bot gets CHANNEL_UPDATE. */
  setPermissionOverwrites(channelId: string, overwrites: FakeOverwriteInput[]): void {
    const channel = this.state.requireChannel(channelId);
    if (!channel.guildId || isThread(channel)) throw new Error('fake discord: overwrites are for guild channels (threads follow their parent)');
    channel.overwrites = overwrites.map(overwriteOf);
    emit(this.core, 'CHANNEL_UPDATE', channelPayload(this.state, channel), INTENT.Guilds);
  }
  /** The DM channel id between the bot and `userId`, if one exists. */
  dmChannelId(userId = this.state.defaultUserId): string | undefined {
    return this.state.dmChannels.get(userId);
  }

  // ---- gateway helpers ------------------------------------------------------------------------

  userSays(input: UserSaysInput): string {
    return actors.userSays(this.core, input);
  }
  userEdits(messageId: string, content: string): void {
    actors.userEdits(this.core, messageId, content);
  }
  dmSays(input: DmSaysInput): string {
    return actors.dmSays(this.core, input);
  }
  userReacts(input: { messageId: string; emoji: string; userId?: string }): void {
    actors.userReacts(this.core, input);
  }
  interaction(input: FakeInteractionInput): FakeInteractionHandle {
    return actors.interaction(this.core, input);
  }
  /** Raw dispatch on the current session (buffered while disconnected); returns its sequence number. */
  dispatch(event: string, data: unknown): number {
    return this.gateway.dispatch(event, data);
  }
  /** Raw gateway payload, e.g. `sendOp(7)` (RECONNECT) or `sendOp(9, false)` (INVALID_SESSION). */
  sendOp(op: number, d: unknown = null): void {
    this.gateway.send(op, d);
  }
  /** Closes the gateway socket (default code 4000: discord.js resumes); resolves when closed. */
  dropConnection(options?: DropOptions): Promise<void> {
    return this.gateway.drop(options);
  }
  /** Resolves at the next READY or RESUMED the fake sends. */
  nextSession(): Promise<'ready' | 'resumed'> {
    return this.gateway.nextSession();
  }
  /** every dispatch sent, in order */
  get dispatched(): readonly Dispatch[] {
    return this.gateway.dispatched;
  }
  /** IDENTIFY payloads received (token, intents, properties, ...) */
  get identifies(): readonly any[] {
    return this.gateway.identifies;
  }
  /** `[id, count]` of every gateway session with an open connection now (a shard twice: two clients hold it) */
  get connectedShards(): Shard[] {
    return this.gateway.connectedShards;
  }
  /** The shard `guildId`'s events go to among `count` shards (DMs: 0), by Discord's formula. */
  shardOf(guildId: string | null, count: number): number {
    return shardOf(guildId, count);
  }
  /** websocket connections accepted so far */
  get connections(): number {
    return this.gateway.connections;
  }

  // ---- assertion helpers -------------------------------------------------------------------------

  /** every REST request, in order */
  get rest(): readonly RecordedRest[] {
    return this.http.rest;
  }
  /** REST requests that hit no route */
  get unknownRoutes(): RecordedRest[] {
    return this.http.rest.filter((r) => r.route === 'unknown');
  }
  /** 429s answered so far */
  get rateLimited(): number {
    return this.limiter.rateLimited;
  }
  /** Most edit attempts (429s included) that fell within one rate-limit window in `channelId`. */
  editsPerWindow(channelId: string, windowMs?: number): number {
    return this.limiter.maxPerWindow(channelId, windowMs);
  }
  /** Current state of each message the bot posted in `channelId`, oldest first (deleted ones included, flagged). */
  messagesIn(channelId: string): FakeSentMessage[] {
    return [...this.state.messages.values()]
      .filter((m) => m.channelId === channelId && m.authorId === this.state.bot.id)
      .map((m) => ({
        id: m.id, channelId: m.channelId, content: m.content, components: m.components, embeds: m.embeds,
        attachments: m.attachments.map((a) => ({
          id: a.id, filename: a.filename, contentType: a.contentType, size: a.data.length, data: a.data, text: a.data.toString('utf8'),
          url: String(attachmentPayload(this.state, m.channelId, a).url),
        })),
        editCount: m.editCount, flags: m.flags, ephemeral: Boolean(m.flags & 64), replyTo: m.replyTo,
        via: m.via === 'user' ? 'channel' : m.via, interactionId: m.interactionId, deleted: m.deleted, reactions: [...m.reactions],
      }));
  }
  /** Messages the bot posted in DM channels (all users, or one user's), oldest first. */
  dmMessages(userId?: string): FakeSentMessage[] {
    const channels = userId ? [this.state.dmChannels.get(userId)] : [...this.state.dmChannels.values()];
    return channels.flatMap((id) => (id ? this.messagesIn(id) : [])).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }
  /** Threads the bot created over REST. */
  get threads(): FakeThread[] {
    return [...this.state.channels.values()].filter((c) => c.createdByBot).map((c) => ({
      id: c.id, name: c.name ?? '', parentId: c.parentId!, guildId: c.guildId!, type: c.type, starterMessageId: c.starterMessageId,
      autoArchiveDuration: c.autoArchiveDuration, names: [...c.names],
    }));
  }
  /** Commands currently registered through PUT/POST: global ones, then per guild (`guildId` set). */
  get registeredCommands(): RegisteredCommand[] {
    return [...this.state.globalCommands, ...[...this.state.guildCommands.values()].flat()];
  }

  private findAttachment(channelId: string, id: string): { data: Buffer; contentType: string } | undefined {
    for (const m of this.state.messages.values()) {
      if (m.channelId !== channelId) continue;
      const found = m.attachments.find((a) => a.id === id);
      if (found) return found;
    }
    return undefined;
  }
}
