/**
 * One room's history and state: every event in order, the current state by (type, state key),
 * relations by parent, receipts and who is typing. No rules here: the homeserver decides who may
 * do what, this only remembers what happened.
 */
import type { Json, Membership, StoredEvent } from './types.js';

export interface Relation {
  rel_type?: string;
  event_id?: string;
  key?: string;
  is_falling_back?: boolean;
  'm.in_reply_to'?: { event_id?: string };
}

export interface Receipt {
  userId: string;
  receiptType: string;
  eventId: string;
  threadId: string | null;
  ts: number;
  position: number;
}

const stateKey = (type: string, key: string): string => `${type}\u0000${key}`;

export function relationOf(event: { content: Json }): Relation | undefined {
  const relation = event.content['m.relates_to'];
  return relation && typeof relation === 'object' ? (relation as Relation) : undefined;
}

export const MEMBERSHIPS: readonly Membership[] = ['join', 'invite', 'leave', 'ban', 'knock'];

export class Room {
  readonly events: StoredEvent[] = [];
  private readonly state = new Map<string, StoredEvent>();
  /** child events by the event they relate to (threads, edits, reactions, replies are not relations) */
  private readonly children = new Map<string, StoredEvent[]>();
  readonly receipts: Receipt[] = [];
  /** user → when their typing notice runs out (ms since epoch) */
  readonly typing = new Map<string, number>();
  /** stream position of the last change to `typing` */
  typingPosition = 0;

  constructor(readonly roomId: string) {}

  append(event: StoredEvent): void {
    if (event.state_key !== undefined) {
      const key = stateKey(event.type, event.state_key);
      const previous = this.state.get(key);
      if (previous) {
        event.prevContent = previous.content;
        event.replacesState = previous.event_id;
      }
      this.state.set(key, event);
    }
    const parent = relationOf(event)?.event_id;
    if (parent) this.children.set(parent, [...(this.children.get(parent) ?? []), event]);
    this.events.push(event);
  }

  find(eventId: string): StoredEvent | undefined {
    return this.events.find((e) => e.event_id === eventId);
  }

  getState(type: string, key = ''): StoredEvent | undefined {
    return this.state.get(stateKey(type, key));
  }

  currentState(): StoredEvent[] {
    return [...this.state.values()].sort((a, b) => a.position - b.position);
  }

  /** The state as it was just before stream position `position` (exclusive). */
  stateBefore(position: number): StoredEvent[] {
    const state = new Map<string, StoredEvent>();
    for (const e of this.events) {
      if (e.position >= position) break;
      if (e.state_key !== undefined) state.set(stateKey(e.type, e.state_key), e);
    }
    return [...state.values()].sort((a, b) => a.position - b.position);
  }

  /** Events that relate to `eventId`, oldest first. */
  relationsOf(eventId: string): StoredEvent[] {
    return this.children.get(eventId) ?? [];
  }

  membership(userId: string): Membership | null {
    const membership = this.getState('m.room.member', userId)?.content.membership;
    return MEMBERSHIPS.includes(membership as Membership) ? (membership as Membership) : null;
  }

  /** Users whose current membership is `membership`. */
  members(membership: Membership = 'join'): string[] {
    return this.currentState()
      .filter((e) => e.type === 'm.room.member' && e.content.membership === membership)
      .map((e) => e.state_key!);
  }

  /** Whether `userId` has ever been joined (history is `shared`: a member sees everything). */
  everJoined(userId: string): boolean {
    return this.events.some((e) => e.type === 'm.room.member' && e.state_key === userId && e.content.membership === 'join');
  }

  powerOf(userId: string): number {
    const levels = this.getState('m.room.power_levels')?.content as { users?: Record<string, number>; users_default?: number } | undefined;
    if (!levels) return this.getState('m.room.create')?.sender === userId ? 100 : 0;
    return levels.users?.[userId] ?? levels.users_default ?? 0;
  }

  /** Power needed to send `type` (a state event when `isState`), or for a named action like `redact`. */
  required(type: string, isState: boolean): number {
    const levels = (this.getState('m.room.power_levels')?.content ?? {}) as {
      events?: Record<string, number>;
      events_default?: number;
      state_default?: number;
      redact?: number;
    };
    if (type === 'redact') return levels.redact ?? 50;
    return levels.events?.[type] ?? (isState ? (levels.state_default ?? 50) : (levels.events_default ?? 0));
  }

  isEncrypted(): boolean {
    return this.getState('m.room.encryption') !== undefined;
  }

  /** Users typing now. */
  typingUsers(now = Date.now()): string[] {
    return [...this.typing].filter(([, until]) => until > now).map(([user]) => user);
  }
}
