/**
 * Events in the client-server format, as Synapse serves them: `unsigned.age`, the
 * `transaction_id` only to the access token that sent it, `prev_content` on state, redacted
 * content stripped (room version 10 rules) with `redacted_because`, and bundled aggregations
 * in `unsigned["m.relations"]`: a thread summary, the latest edit by the original sender, and
 * references. Reactions are not bundled (Synapse stopped doing that).
 */
import { relationOf, type Room } from './rooms.js';
import type { Json, MatrixEventJson, StoredEvent } from './types.js';

/** Who is looking: the transaction id and `current_user_participated` depend on it. */
export interface Viewer {
  userId: string;
  token: string | null;
}

export type Bundle = 'all' | 'edits' | 'none';

export interface SerializeOptions {
  /** /sync leaves `room_id` out; every other endpoint includes it */
  withRoomId?: boolean;
  bundle?: Bundle;
}

const KEPT_CONTENT: Record<string, string[]> = {
  'm.room.member': ['membership', 'join_authorised_via_users_server'],
  'm.room.create': ['creator'],
  'm.room.join_rules': ['join_rule', 'allow'],
  'm.room.power_levels': ['ban', 'events', 'events_default', 'invite', 'kick', 'redact', 'state_default', 'users', 'users_default'],
  'm.room.history_visibility': ['history_visibility'],
};

function redactedContent(event: StoredEvent): Json {
  const kept = KEPT_CONTENT[event.type] ?? [];
  return Object.fromEntries(Object.entries(event.content).filter(([key]) => kept.includes(key)));
}

export function clientEvent(room: Room, event: StoredEvent, viewer: Viewer, options: SerializeOptions = {}): MatrixEventJson {
  const withRoomId = options.withRoomId ?? true;
  const unsigned: Json = { age: Math.max(0, Date.now() - event.origin_server_ts) };
  if (event.txn && viewer.token !== null && event.txn.token === viewer.token) unsigned.transaction_id = event.txn.txnId;
  if (event.prevContent) {
    unsigned.prev_content = event.prevContent;
    unsigned.replaces_state = event.replacesState;
  }
  const redaction = event.redactedBy ? room.find(event.redactedBy) : undefined;
  if (redaction) unsigned.redacted_because = clientEvent(room, redaction, viewer, { withRoomId, bundle: 'none' });
  else {
    const relations = bundled(room, event, viewer, options.bundle ?? 'all');
    if (relations) unsigned['m.relations'] = relations;
  }
  return {
    event_id: event.event_id,
    ...(withRoomId ? { room_id: event.room_id } : {}),
    type: event.type,
    sender: event.sender,
    content: redaction ? redactedContent(event) : event.content,
    origin_server_ts: event.origin_server_ts,
    ...(event.state_key !== undefined ? { state_key: event.state_key } : {}),
    ...(event.redacts ? { redacts: event.redacts } : {}),
    unsigned,
  };
}

function bundled(room: Room, event: StoredEvent, viewer: Viewer, bundle: Bundle): Json | undefined {
  if (bundle === 'none' || event.state_key !== undefined) return undefined;
  const children = room.relationsOf(event.event_id).filter((e) => !e.redactedBy);
  if (children.length === 0) return undefined;
  const relations: Json = {};
  const of = (relType: string): StoredEvent[] => children.filter((e) => relationOf(e)?.rel_type === relType);
  // an edit counts only from the original sender, for the same event type
  const edits = of('m.replace').filter((e) => e.sender === event.sender && e.type === event.type);
  if (edits.length > 0) relations['m.replace'] = clientEvent(room, edits[edits.length - 1]!, viewer, { withRoomId: true, bundle: 'none' });
  if (bundle === 'all') {
    const thread = of('m.thread');
    if (thread.length > 0) {
      relations['m.thread'] = {
        latest_event: clientEvent(room, thread[thread.length - 1]!, viewer, { withRoomId: true, bundle: 'edits' }),
        count: thread.length,
        current_user_participated: event.sender === viewer.userId || thread.some((e) => e.sender === viewer.userId),
      };
    }
    const references = of('m.reference');
    if (references.length > 0) relations['m.reference'] = { chunk: references.map((e) => ({ event_id: e.event_id })) };
  }
  return Object.keys(relations).length > 0 ? relations : undefined;
}

/** Stripped state for `invite_state`: type, state key, content and sender only. */
export function strippedState(event: StoredEvent): Json {
  return { type: event.type, state_key: event.state_key ?? '', content: event.content, sender: event.sender };
}
