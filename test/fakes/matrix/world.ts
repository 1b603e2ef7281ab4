/**
 * People doing things on the homeserver, without HTTP: saying things (in threads, as replies,
 * with mentions), editing, reacting, redacting, and sending undecryptable `m.room.encrypted`
 * events. Each is what Element would send, stored as if it came through the API.
 */
import { randomBytes } from 'node:crypto';
import type { Homeserver } from './homeserver.js';
import { relationOf } from './rooms.js';
import type { Json, SayOptions, StoredEvent } from './types.js';

export function sendAs(hs: Homeserver, roomId: string, sender: string, type: string, content: Json, stateKey?: string): StoredEvent {
  const room = hs.room(roomId);
  if (room.membership(sender) !== 'join') throw new Error(`fake Matrix: ${sender} is not joined to ${roomId}`);
  return hs.append(roomId, sender, { type, content, ...(stateKey !== undefined ? { stateKey } : {}) });
}

/** The newest event in the thread rooted at `root` (the root when it has no replies). */
function latestInThread(hs: Homeserver, roomId: string, root: string): string {
  const replies = hs.room(roomId).relationsOf(root).filter((e) => relationOf(e)?.rel_type === 'm.thread');
  return replies[replies.length - 1]?.event_id ?? root;
}

export function textContent(hs: Homeserver, roomId: string, body: string, options: SayOptions = {}): Json {
  const content: Json = { msgtype: 'm.text', body };
  if (options.html) Object.assign(content, { format: 'org.matrix.custom.html', formatted_body: options.html });
  if (options.mentions) content['m.mentions'] = { user_ids: options.mentions };
  if (options.thread) {
    // Element: the thread relation plus a reply fallback to the thread's newest event
    content['m.relates_to'] = { rel_type: 'm.thread', event_id: options.thread, is_falling_back: true, 'm.in_reply_to': { event_id: latestInThread(hs, roomId, options.thread) } };
  } else if (options.replyTo) {
    content['m.relates_to'] = { 'm.in_reply_to': { event_id: options.replyTo } };
  }
  return content;
}

export function editContent(eventId: string, newBody: string): Json {
  return {
    msgtype: 'm.text',
    body: `* ${newBody}`,
    'm.new_content': { msgtype: 'm.text', body: newBody },
    'm.relates_to': { rel_type: 'm.replace', event_id: eventId },
  };
}

export function reactionContent(eventId: string, key: string): Json {
  return { 'm.relates_to': { rel_type: 'm.annotation', event_id: eventId, key } };
}

/** Megolm ciphertext nobody holds the keys to; a thread relation stays in the clear, as in Matrix. */
export function encryptedContent(thread?: string): Json {
  const b64 = (n: number): string => randomBytes(n).toString('base64').replace(/=+$/, '');
  return {
    algorithm: 'm.megolm.v1.aes-sha2',
    ciphertext: b64(160),
    device_id: 'WORLDDEVICE',
    sender_key: b64(32),
    session_id: b64(32),
    ...(thread ? { 'm.relates_to': { rel_type: 'm.thread', event_id: thread } } : {}),
  };
}
