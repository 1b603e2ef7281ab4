/**
 * `POST /createRoom` as Synapse does it, in its order: create, the creator's join, power levels,
 * alias, join rules, history visibility, guest access, initial state, name, topic, then invites.
 * Presets: `public_chat`, `private_chat` (default) and `trusted_private_chat` (DMs: invitees get
 * power 100).
 */
import { MatrixApiError } from './errors.js';
import type { Homeserver } from './homeserver.js';
import type { CreateRoomInput, Json } from './types.js';

export const ROOM_VERSION = '10';
export const MEGOLM = { algorithm: 'm.megolm.v1.aes-sha2', rotation_period_ms: 604_800_000, rotation_period_msgs: 100 };

type Preset = 'public_chat' | 'private_chat' | 'trusted_private_chat';

function powerLevels(creator: string, preset: Preset, invite: string[]): Json {
  const users: Record<string, number> = { [creator]: 100 };
  if (preset === 'trusted_private_chat') for (const user of invite) users[user] = 100;
  return {
    users,
    users_default: 0,
    events: { 'm.room.name': 50, 'm.room.power_levels': 100, 'm.room.history_visibility': 100, 'm.room.canonical_alias': 50, 'm.room.avatar': 50, 'm.room.tombstone': 100, 'm.room.server_acl': 100, 'm.room.encryption': 100 },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
    historical: 100,
    notifications: { room: 50 },
  };
}

export function createRoom(hs: Homeserver, creator: string, input: CreateRoomInput & { preset?: Preset }): string {
  if (!hs.accounts.account(creator)) throw new Error(`fake Matrix: no user ${creator}`);
  const invite = input.invite ?? [];
  const preset: Preset = input.preset ?? (input.isPublic ? 'public_chat' : input.isDirect ? 'trusted_private_chat' : 'private_chat');
  const alias = input.alias ? `#${input.alias}:${hs.serverName}` : null;
  if (alias && hs.aliases.has(alias)) throw new MatrixApiError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
  const room = hs.newRoom();
  const id = room.roomId;
  const state = (type: string, content: Json, stateKey = ''): void => void hs.append(id, creator, { type, stateKey, content });
  state('m.room.create', { creator, room_version: ROOM_VERSION });
  hs.setMembership(id, creator, creator, 'join');
  state('m.room.power_levels', powerLevels(creator, preset, invite));
  if (alias) {
    hs.aliases.set(alias, id);
    state('m.room.canonical_alias', { alias });
  }
  state('m.room.join_rules', { join_rule: preset === 'public_chat' ? 'public' : 'invite' });
  state('m.room.history_visibility', { history_visibility: 'shared' });
  if (preset !== 'public_chat') state('m.room.guest_access', { guest_access: 'can_join' });
  for (const event of input.initialState ?? []) state(event.type, event.content, event.state_key ?? '');
  if (input.encrypted && !room.isEncrypted()) state('m.room.encryption', MEGOLM);
  if (input.name) state('m.room.name', { name: input.name });
  if (input.topic) state('m.room.topic', { topic: input.topic });
  for (const user of invite) hs.invite(id, creator, user, input.isDirect ?? false);
  return id;
}
