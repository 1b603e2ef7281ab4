/** The fake homeserver: its state, its HTTP side, and the world API tests drive it with. */
import { createRoom } from './create-room.js';
import { Homeserver } from './homeserver.js';
import { DEFAULT_RATE_LIMIT, type Refusal } from './limits.js';
import { relationOf } from './rooms.js';
import { accountRoutes } from './routes-account.js';
import { historyRoutes } from './routes-history.js';
import { mediaRoutes } from './routes-media.js';
import { roomRoutes } from './routes-rooms.js';
import { MatrixServer } from './server.js';
import { syncRoutes } from './sync.js';
import type {
  CreateRoomInput, FakeMatrixOptions, Json, MediaItem, Membership, RateLimit, ReceiptRecord, RegisteredUser, RegisterInput, RequestRecord, SayOptions,
  StoredEvent, TypingRecord, UnknownRoute,
} from './types.js';
import { editContent, encryptedContent, reactionContent, sendAs, textContent } from './world.js';

const WAIT_MS = 8_000;

export class FakeMatrix {
  readonly hs: Homeserver;
  private readonly server: MatrixServer;
  private readonly waits = new Set<(error: Error) => void>();

  constructor(options: FakeMatrixOptions = {}) {
    const limit = options.rateLimit === true ? DEFAULT_RATE_LIMIT : (options.rateLimit ?? false);
    this.hs = new Homeserver(options.serverName ?? 'localhost', limit, options.now);
    this.server = new MatrixServer(this.hs, [...accountRoutes, ...syncRoutes, ...roomRoutes, ...historyRoutes, ...mediaRoutes]);
  }

  async listen(): Promise<this> {
    await this.server.listen();
    return this;
  }

  /** Ends long-polling syncs, fails pending `waitForEvent`s, closes every connection. */
  async close(): Promise<void> {
    for (const fail of [...this.waits]) fail(new Error('fake Matrix: closed'));
    this.hs.close();
    await this.server.close();
  }

  /** the homeserver URL for `createClient({ baseUrl })` */
  get url(): string {
    return this.server.url;
  }
  get serverName(): string {
    return this.hs.serverName;
  }

  // ---- accounts and rooms ---------------------------------------------------------------------------
  registerUser(localpart: string, input: RegisterInput = {}): RegisteredUser {
    return this.hs.accounts.register(localpart, input);
  }
  /** `alice` → `@alice:localhost` */
  userId(localpart: string): string {
    return this.hs.accounts.userIdFor(localpart);
  }

  /** A room made by `creator` (who joins); `join` users join at once, `invite` users are invited. */
  createRoom(creator: string, input: CreateRoomInput = {}): string {
    const roomId = createRoom(this.hs, creator, input);
    for (const user of input.join ?? []) this.hs.setMembership(roomId, user, user, 'join');
    return roomId;
  }
  invite(roomId: string, from: string, to: string, options: { isDirect?: boolean } = {}): string {
    return this.hs.invite(roomId, from, to, options.isDirect ?? false).event_id;
  }
  /** Joins as over HTTP: only when invited, or when the room is public. */
  join(roomId: string, userId: string): string {
    this.hs.join(roomId, userId);
    return this.hs.room(roomId).getState('m.room.member', userId)!.event_id;
  }
  leave(roomId: string, userId: string, reason?: string): void {
    this.hs.leave(roomId, userId, reason);
  }
  setState(roomId: string, sender: string, type: string, content: Json, stateKey = ''): string {
    return sendAs(this.hs, roomId, sender, type, content, stateKey).event_id;
  }

  // ---- what people say -------------------------------------------------------------------------------
  /** Any event `content` of `type` from `sender` (who must be joined); returns its id. */
  send(roomId: string, sender: string, content: Json, type = 'm.room.message'): string {
    return sendAs(this.hs, roomId, sender, type, content).event_id;
  }
  /** An `m.text` message, optionally in a thread, as a reply, or with `m.mentions`. */
  say(roomId: string, sender: string, body: string, options: SayOptions = {}): string {
    return this.send(roomId, sender, textContent(this.hs, roomId, body, options));
  }
  /** An `m.annotation` reaction; the same key twice is refused, as on Synapse. */
  react(roomId: string, sender: string, eventId: string, key: string): string {
    const content = reactionContent(eventId, key);
    this.hs.checkAnnotation(this.hs.room(roomId), sender, content);
    return this.send(roomId, sender, content, 'm.reaction');
  }
  /** An `m.replace` edit with `m.new_content`. */
  edit(roomId: string, sender: string, eventId: string, newBody: string): string {
    return this.send(roomId, sender, editContent(eventId, newBody));
  }
  redact(roomId: string, sender: string, eventId: string, reason?: string): string {
    if (this.hs.room(roomId).membership(sender) !== 'join') throw new Error(`fake Matrix: ${sender} is not joined to ${roomId}`);
    return this.hs.append(roomId, sender, { type: 'm.room.redaction', content: { ...(reason ? { reason } : {}), redacts: eventId }, redacts: eventId }).event_id;
  }
  /** An `m.room.encrypted` event nobody can decrypt (the thread relation stays readable). */
  sendEncrypted(roomId: string, sender: string, options: { thread?: string } = {}): string {
    return this.send(roomId, sender, encryptedContent(options.thread), 'm.room.encrypted');
  }
  setTyping(roomId: string, userId: string, typing = true, timeoutMs = 30_000): void {
    this.hs.setTyping(roomId, userId, typing, timeoutMs);
  }

  // ---- what tests read back ------------------------------------------------------------------------
  /** Every event in the room, oldest first, as sent (redacted ones keep their content, with `redactedBy`). */
  events(roomId: string): readonly StoredEvent[] {
    return this.hs.room(roomId).events;
  }
  event(eventId: string): StoredEvent | undefined {
    return this.hs.findEvent(eventId);
  }
  /** Non-state events `userId` sent (in one room when given), oldest first. */
  sentBy(userId: string, roomId?: string): StoredEvent[] {
    const rooms = roomId ? [this.hs.room(roomId)] : [...this.hs.rooms.values()];
    return rooms
      .flatMap((r) => r.events)
      .filter((e) => e.sender === userId && e.state_key === undefined)
      .sort((a, b) => a.position - b.position);
  }
  /** Events relating to `eventId` (of one `rel_type` when given), oldest first. */
  relations(eventId: string, relType?: string): StoredEvent[] {
    const event = this.hs.findEvent(eventId);
    if (!event) return [];
    return this.hs.room(event.room_id).relationsOf(eventId).filter((e) => !relType || relationOf(e)?.rel_type === relType);
  }
  membership(roomId: string, userId: string): Membership | null {
    return this.hs.room(roomId).membership(userId);
  }
  /** The content of a current state event. */
  state(roomId: string, type: string, stateKey = ''): Json | undefined {
    return this.hs.room(roomId).getState(type, stateKey)?.content;
  }
  accountData(userId: string, type: string, roomId?: string): Json | undefined {
    return this.hs.accounts.getAccountData(userId, roomId ?? null, type);
  }

  /** The first event, stored or still to come, that matches; fails after `timeoutMs`. */
  waitForEvent(predicate: (event: StoredEvent) => boolean, timeoutMs = WAIT_MS): Promise<StoredEvent> {
    const stored = [...this.hs.rooms.values()].flatMap((r) => r.events).sort((a, b) => a.position - b.position).find(predicate);
    if (stored) return Promise.resolve(stored);
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        off();
        this.waits.delete(fail);
      };
      const fail = (error: Error): void => {
        finish();
        reject(error);
      };
      const timer = setTimeout(() => fail(new Error(`fake Matrix: no matching event within ${timeoutMs} ms`)), timeoutMs);
      const off = this.hs.onChange((event) => {
        if (!event || !predicate(event)) return;
        finish();
        resolve(event);
      });
      this.waits.add(fail);
    });
  }

  get requests(): readonly RequestRecord[] {
    return this.server.requests;
  }
  /** Requests to one route, by its template, e.g. `PUT client/v3/rooms/:roomId/send/:eventType/:txnId`. */
  requestsTo(route: string): RequestRecord[] {
    return this.server.requests.filter((r) => r.route === route);
  }
  get unknownRoutes(): readonly UnknownRoute[] {
    return this.server.unknownRoutes;
  }
  /** 429s answered so far */
  get rateLimited(): number {
    return this.hs.limiter.rateLimited;
  }
  get refusals(): readonly Refusal[] {
    return this.hs.limiter.refusals;
  }
  setRateLimit(limit: RateLimit | false): void {
    this.hs.limiter.limit = limit;
  }
  get typing(): readonly TypingRecord[] {
    return this.hs.typingLog;
  }
  get receipts(): readonly ReceiptRecord[] {
    return this.hs.receiptLog;
  }
  media(mxc: string): MediaItem | undefined {
    return this.hs.media.get(mxc);
  }
}
