/**
 * The homeserver's memory and its rules: rooms, one stream position for everything /sync can
 * report, membership changes, and sending as a user (membership and power checked, transaction
 * ids deduplicated per access token, size and rate limits applied). The world and the HTTP routes
 * both act through here.
 */
import { Accounts, type Device } from './accounts.js';
import { forbidden, MatrixApiError, notFound } from './errors.js';
import { eventId as newEventId, roomId as newRoomId } from './ids.js';
import { checkEventSize, SendLimiter } from './limits.js';
import { relationOf, Room } from './rooms.js';
import type { Json, MediaItem, Membership, RateLimit, ReceiptRecord, StoredEvent, TypingRecord } from './types.js';

export interface AppendInput {
  type: string;
  content: Json;
  stateKey?: string;
  redacts?: string;
  txn?: { token: string; txnId: string };
}

type Listener = (event: StoredEvent | null) => void;

export class Homeserver {
  readonly accounts: Accounts;
  readonly limiter: SendLimiter;
  readonly rooms = new Map<string, Room>();
  readonly aliases = new Map<string, string>();
  readonly typingLog: TypingRecord[] = [];
  readonly receiptLog: ReceiptRecord[] = [];
  /** uploads by `mxc://` URL */
  readonly media = new Map<string, MediaItem>();
  /** the stream position of the newest change; sync tokens are `s<position>` */
  position = 0;
  closed = false;
  private readonly listeners = new Set<Listener>();
  /** `token|path` of a send → the event it made */
  private readonly transactions = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly serverName: string,
    rateLimit: RateLimit | false,
    now?: () => number,
  ) {
    this.accounts = new Accounts(serverName);
    this.limiter = new SendLimiter(rateLimit, now);
  }

  // ---- the stream --------------------------------------------------------------------------------
  nextPosition(): number {
    return ++this.position;
  }

  /** Tells long-polling syncs and waiting tests that something changed. */
  changed(event: StoredEvent | null = null): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves at the next change, after `ms`, or when `signal` aborts. */
  waitForChange(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.timers.delete(timer);
        off();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.timers.add(timer);
      const off = this.onChange(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Wakes every waiter and stops every timer. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.changed();
    this.listeners.clear();
  }

  // ---- rooms and events --------------------------------------------------------------------------
  room(roomId: string): Room {
    const room = this.rooms.get(roomId);
    if (!room) throw notFound(`Unknown room ${roomId}`);
    return room;
  }

  /** A room id, or the room an alias points at. */
  resolve(roomIdOrAlias: string): Room {
    const roomId = roomIdOrAlias.startsWith('#') ? this.aliases.get(roomIdOrAlias) : roomIdOrAlias;
    if (!roomId) throw notFound(`Room alias ${roomIdOrAlias} not found`);
    return this.room(roomId);
  }

  newRoom(): Room {
    const room = new Room(newRoomId(this.serverName));
    this.rooms.set(room.roomId, room);
    return room;
  }

  findEvent(eventId: string): StoredEvent | undefined {
    for (const room of this.rooms.values()) {
      const event = room.find(eventId);
      if (event) return event;
    }
    return undefined;
  }

  /** Adds an event as `sender` without any check (the world, and sends that passed them). */
  append(roomId: string, sender: string, input: AppendInput): StoredEvent {
    const room = this.room(roomId);
    const event: StoredEvent = {
      event_id: newEventId(),
      room_id: roomId,
      type: input.type,
      sender,
      content: input.content,
      origin_server_ts: Date.now(),
      position: this.nextPosition(),
      ...(input.stateKey !== undefined ? { state_key: input.stateKey } : {}),
      ...(input.redacts ? { redacts: input.redacts } : {}),
      ...(input.txn ? { txn: input.txn } : {}),
    };
    room.append(event);
    if (input.redacts) {
      const target = room.find(input.redacts);
      if (target && !target.redactedBy) target.redactedBy = event.event_id;
    }
    this.changed(event);
    return event;
  }

  /** A member event for `target` set by `sender`; carries the target's profile when they join. */
  setMembership(roomId: string, sender: string, target: string, membership: Membership, extra: Json = {}): StoredEvent {
    const account = this.accounts.account(target);
    const profile = membership === 'join' || membership === 'invite' ? { displayname: account?.displayName ?? target, ...(account?.avatarUrl ? { avatar_url: account.avatarUrl } : {}) } : {};
    return this.append(roomId, sender, { type: 'm.room.member', stateKey: target, content: { membership, ...profile, ...extra } });
  }

  /** Joins `userId` if they may: invited, already in, or the room is public. */
  join(roomIdOrAlias: string, userId: string): Room {
    const room = this.resolve(roomIdOrAlias);
    const membership = room.membership(userId);
    if (membership === 'ban') throw forbidden('You are banned from this room');
    const rule = room.getState('m.room.join_rules')?.content.join_rule;
    if (membership !== 'join' && membership !== 'invite' && rule !== 'public') throw forbidden('You are not invited to this room.');
    if (membership !== 'join') this.setMembership(room.roomId, userId, userId, 'join');
    return room;
  }

  invite(roomId: string, from: string, to: string, isDirect = false): StoredEvent {
    const room = this.room(roomId);
    if (room.membership(from) !== 'join') throw forbidden(`${from} is not in the room`);
    const current = room.membership(to);
    if (current === 'join') throw forbidden(`${to} is already in the room.`);
    if (current === 'ban') throw forbidden(`${to} is banned from the room`);
    if (!this.accounts.account(to)) throw notFound(`Unknown user ${to}`);
    return this.setMembership(roomId, from, to, 'invite', isDirect ? { is_direct: true } : {});
  }

  /** Leaves a room, or declines an invite. */
  leave(roomId: string, userId: string, reason?: string): void {
    const room = this.room(roomId);
    const membership = room.membership(userId);
    if (membership === 'leave') return;
    if (membership !== 'join' && membership !== 'invite' && membership !== 'knock') throw forbidden(`${userId} is not in the room`);
    this.setMembership(roomId, userId, userId, 'leave', reason ? { reason } : {});
  }

  // ---- sending as a user over HTTP -------------------------------------------------------------
  /**
   * Sends as `device`'s user after Synapse's checks. A repeated transaction (same token, same
   * path) returns the first event's id without sending again or counting against the limit.
   */
  send(device: Device, roomId: string, input: AppendInput, txnId?: string): string {
    // scoped like the request path: room, event type (or redacted event) and transaction id
    const key = txnId ? [device.token, roomId, input.redacts ? `redact ${input.redacts}` : `send ${input.type}`, txnId].join('|') : null;
    const seen = key ? this.transactions.get(key) : undefined;
    if (seen) return seen;
    const room = this.rooms.get(roomId);
    if (!room || room.membership(device.userId) !== 'join') throw forbidden(`User ${device.userId} not in room ${roomId}`);
    const isState = input.stateKey !== undefined;
    const needed = input.type === 'm.room.redaction' ? 0 : room.required(input.type, isState);
    if (room.powerOf(device.userId) < needed) throw forbidden(`You don't have permission to post that to the room. user_level (${room.powerOf(device.userId)}) < send_level (${needed})`);
    if (input.redacts) this.checkRedaction(room, device.userId, input.redacts);
    this.checkAnnotation(room, device.userId, input.content);
    if (isState) {
      // Synapse answers an unchanged state event with the current one
      const current = room.getState(input.type, input.stateKey);
      if (current && current.sender === device.userId && JSON.stringify(current.content) === JSON.stringify(input.content)) return current.event_id;
    }
    checkEventSize({ event_id: newEventId(), room_id: roomId, sender: device.userId, type: input.type, content: input.content, origin_server_ts: Date.now(), ...(isState ? { state_key: input.stateKey } : {}) });
    this.limiter.take(device.userId);
    const event = this.append(roomId, device.userId, { ...input, ...(txnId ? { txn: { token: device.token, txnId } } : {}) });
    if (key) this.transactions.set(key, event.event_id);
    return event.event_id;
  }

  /** Synapse refuses the same reaction twice from one user. */
  checkAnnotation(room: Room, sender: string, content: Json): void {
    const relation = relationOf({ content });
    if (relation?.rel_type !== 'm.annotation' || !relation.event_id) return;
    const same = room.relationsOf(relation.event_id).some((e) => e.sender === sender && !e.redactedBy && relationOf(e)?.rel_type === 'm.annotation' && relationOf(e)?.key === relation.key);
    if (same) throw new MatrixApiError(400, 'M_DUPLICATE_ANNOTATION', "Can't send same reaction twice");
  }

  private checkRedaction(room: Room, userId: string, target: string): void {
    const event = room.find(target);
    if (!event) throw notFound('Event not found');
    if (event.sender !== userId && room.powerOf(userId) < room.required('redact', false)) throw forbidden('You don\'t have permission to redact events');
  }

  // ---- ephemeral -----------------------------------------------------------------------------------
  setTyping(roomId: string, userId: string, typing: boolean, timeoutMs: number | null): void {
    const room = this.room(roomId);
    if (room.membership(userId) !== 'join') throw forbidden(`User ${userId} not in room ${roomId}`);
    this.typingLog.push({ roomId, userId, typing, timeoutMs, at: Date.now() });
    if (typing) room.typing.set(userId, Date.now() + (timeoutMs ?? 30_000));
    else room.typing.delete(userId);
    room.typingPosition = this.nextPosition();
    this.changed();
    if (typing) {
      // the notice runs out: members' syncs hear that the user stopped typing
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if ((room.typing.get(userId) ?? Infinity) > Date.now()) return;
        room.typing.delete(userId);
        room.typingPosition = this.nextPosition();
        this.changed();
      }, (timeoutMs ?? 30_000) + 5);
      timer.unref();
      this.timers.add(timer);
    }
  }

  receipt(roomId: string, userId: string, receiptType: string, eventId: string, threadId: string | null): void {
    const room = this.room(roomId);
    if (room.membership(userId) !== 'join') throw forbidden(`User ${userId} not in room ${roomId}`);
    if (!room.find(eventId)) throw notFound(`Event ${eventId} not found`);
    const at = Date.now();
    room.receipts.push({ userId, receiptType, eventId, threadId, ts: at, position: this.nextPosition() });
    this.receiptLog.push({ roomId, userId, receiptType, eventId, threadId, at });
    this.changed();
  }

  setAccountData(userId: string, roomId: string | null, type: string, content: Json): void {
    this.accounts.setAccountData(userId, roomId, type, content, this.nextPosition());
    this.changed();
  }
}
