/** The fake Slack: wires the workspace state, Web API, Socket Mode and delivery together. */
import * as actors from './actors.js';
import { Delivery } from './delivery.js';
import { UpdateLimiter } from './limits.js';
import { eventCallback, messageEvent } from './payloads.js';
import { FakeServer } from './server.js';
import type { SignedPostOptions } from './signing.js';
import { SocketSide } from './socket.js';
import { identity, SlackState } from './state.js';
import type {
  AckRecord, ApiCall, AssistantCall, ClickButtonInput, EphemeralMessage, FakeChannel, FakeChannelOptions, FakeFile, FakeFileInput, FakeSlackOptions, FakeUser, Json,
  ResponseUrlPost, SlashCommandInput, StoredMessage, Transport, UpdateLimit, UserSaysInput,
} from './types.js';

export class FakeSlack {
  readonly state: SlackState;
  readonly limiter: UpdateLimiter;
  private readonly delivery: Delivery;
  private readonly socket: SocketSide;
  private readonly server: FakeServer;
  private readonly core: actors.Core;

  constructor(private readonly options: FakeSlackOptions = {}) {
    this.state = new SlackState(identity(options));
    this.limiter = new UpdateLimiter(options.updateLimit ?? { perSecond: 1, burst: 3 }, options.now);
    this.delivery = new Delivery(this.state);
    this.socket = new SocketSide(this.state.id.appId, (envelopeId, payload) => this.delivery.onSocketAck(envelopeId, payload));
    this.delivery.socket = this.socket;
    const responseUrls = new Map<string, actors.IssuedResponseUrl>();
    this.core = { state: this.state, delivery: this.delivery, baseUrl: () => this.server.baseUrl, responseUrls };
    this.server = new FakeServer(this.state, {
      socket: this.socket,
      api: {
        state: this.state,
        limiter: this.limiter,
        socketUrl: () => this.socket.ticket(this.server.baseUrl.replace(/^http/, 'ws')),
        onBotMessage: (m) => this.echo(m),
      },
      onResponseUrl: (id, body) => {
        const issued = responseUrls.get(id);
        if (!issued) return false;
        this.state.responseUrlPosts.push({ kind: issued.kind, url: `${this.server.baseUrl}response/${id}`, body, at: Date.now() });
        actors.respond(this.core, issued, body);
        return true;
      },
    });
  }

  async listen(): Promise<this> {
    await this.server.listen();
    return this;
  }

  /** Waits for Socket Mode apps to close their sockets (stop the app first), then closes everything. */
  async close(): Promise<void> {
    await this.socket.close();
    await this.server.close();
  }

  // ---- identity and wiring -------------------------------------------------------------------
  get apiUrl(): string {
    return `${this.server.baseUrl}api/`;
  }
  get teamId(): string {
    return this.state.id.teamId;
  }
  get appId(): string {
    return this.state.id.appId;
  }
  get botUserId(): string {
    return this.state.id.botUserId;
  }
  get botId(): string {
    return this.state.id.botId;
  }
  get botToken(): string {
    return this.state.id.botToken;
  }
  get appToken(): string {
    return this.state.id.appToken;
  }
  get signingSecret(): string {
    return this.state.id.signingSecret;
  }
  /** the channel and user the delivery helpers use when none is given */
  readonly channelId = actors.DEFAULT_CHANNEL;
  readonly userId = actors.DEFAULT_USER;

  get transport(): Transport {
    return this.delivery.transport;
  }
  set transport(value: Transport) {
    this.delivery.transport = value;
  }
  /** the app's receiver URL for HTTP mode, e.g. `http://127.0.0.1:PORT/slack/events` */
  get httpTarget(): string | undefined {
    return this.delivery.httpTarget;
  }
  set httpTarget(value: string | undefined) {
    this.delivery.httpTarget = value;
  }
  /** open Socket Mode connections now, and connections ever accepted */
  get socketConnections(): { open: number; total: number } {
    return { open: this.socket.connected, total: this.socket.connections };
  }
  setUpdateLimit(limit: UpdateLimit | false): void {
    this.limiter.limit = limit;
  }

  addUser(user: Partial<FakeUser> & { name: string }): FakeUser {
    return this.state.addUser(user);
  }
  /** A channel (public unless `kind` says otherwise) with its members (public: everyone; else the bot only). */
  addChannel(id: string, name: string, options: FakeChannelOptions = {}): FakeChannel {
    return this.state.addChannel(id, name, options);
  }
  /** A DM between the bot and `user`. */
  addIm(id: string, user: string): FakeChannel {
    return this.state.addIm(id, user);
  }
  /** Changes who is in a channel (a DM's people stay). */
  setMembers(id: string, members: string[]): void {
    const channel = this.state.channels.get(id);
    if (!channel || channel.kind === 'im') throw new Error(`fake Slack: no channel ${id} to set members of`);
    channel.members = [...members];
  }
  addFile(file: FakeFileInput): FakeFile {
    return this.state.addFile(file, this.server.baseUrl);
  }

  // ---- what people do (delivered over `transport`) -----------------------------------------------
  /** A user's message; returns its ts. Delivery runs in the background (see `idle()`). */
  userSays(input: UserSaysInput): string {
    return actors.userSays(this.core, input);
  }
  /** The user edits their message; returns the event_id of the `message_changed` event. */
  userEdits(channel: string, ts: string, newText: string): string {
    return actors.userEdits(this.core, channel, ts, newText);
  }
  /** Any Events API event; returns its event_id. */
  deliverEvent(event: Json): string {
    return actors.deliverEvent(this.core, event);
  }
  assistantThreadStarted(input: { channel: string; threadTs: string; user?: string; context?: Json }): string {
    return actors.assistantThreadStarted(this.core, input);
  }
  /** Resolves with the app's ack (HTTP: the response; Socket: the envelope ack). */
  slashCommand(input: SlashCommandInput): Promise<AckRecord> {
    return actors.slashCommand(this.core, input);
  }
  clickButton(input: ClickButtonInput): Promise<AckRecord> {
    return actors.clickButton(this.core, input);
  }
  /** Delivers an event again `times` times with retry headers / `retry_attempt`. */
  redeliver(eventId: string, times = 1): Promise<AckRecord[]> {
    return this.delivery.redeliver(eventId, times);
  }
  /** A raw signed POST to the receiver (path relative to `httpTarget`); returns the HTTP status. */
  signedPost(path: string, body: string | Json, options?: SignedPostOptions): Promise<number> {
    return this.delivery.signedPost(path, body, options);
  }
  /** Sends `disconnect` on every socket (the SDK then reconnects through apps.connections.open). */
  disconnectSockets(reason?: 'warning' | 'refresh_requested' | 'link_disabled'): void {
    this.socket.disconnect(reason);
  }
  /** Resolves when every background delivery has been answered; throws if any failed. */
  async idle(): Promise<void> {
    await this.delivery.idle();
    const errors = this.delivery.errors.splice(0);
    if (errors.length > 0) throw new Error(`fake Slack: ${errors.length} delivery failure(s); first: ${errors[0]!.message}`, { cause: errors[0] });
  }
  /** event_ids delivered so far, oldest first */
  get eventIds(): string[] {
    return [...this.delivery.events.keys()];
  }
  deliveredEvent(eventId: string): Json | undefined {
    return this.delivery.events.get(eventId);
  }

  // ---- what tests read back ------------------------------------------------------------------------
  /** The bot's current messages in `channel` (in one thread when `threadTs` is given), oldest first. */
  messages(channel: string, threadTs?: string): StoredMessage[] {
    return this.state.botMessages(channel, threadTs);
  }
  /** Every live message in `channel` (users' and the bot's). */
  allMessages(channel: string): StoredMessage[] {
    return this.state.stored.filter((m) => m.channel === channel && !m.deleted);
  }
  ephemeral(channel: string): EphemeralMessage[] {
    return this.state.ephemerals.filter((e) => e.channel === channel);
  }
  get assistantCalls(): AssistantCall[] {
    return this.state.assistantCalls;
  }
  get responseUrlPosts(): ResponseUrlPost[] {
    return this.state.responseUrlPosts;
  }
  get acks(): AckRecord[] {
    return this.state.acks;
  }
  get calls(): ApiCall[] {
    return this.state.calls;
  }
  callsTo(method: string): ApiCall[] {
    return this.state.calls.filter((c) => c.method === method);
  }
  get fileFetches(): SlackState['fileFetches'] {
    return this.state.fileFetches;
  }
  get rateLimited(): number {
    return this.limiter.rateLimited;
  }
  /** successful `chat.update`s by message, keyed `channel/ts` */
  updatesPerMessage(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const m of this.state.stored) if (m.user === this.state.id.botUserId && m.updates > 0) counts[`${m.channel}/${m.ts}`] = m.updates;
    return counts;
  }

  private echo(m: StoredMessage): void {
    if (!this.options.echoBotMessages) return;
    void this.delivery.background('events_api', eventCallback(this.state, messageEvent(this.state, m, this.state.isIm(m.channel) ? 'im' : 'channel')));
  }
}
