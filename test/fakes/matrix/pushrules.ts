/**
 * The spec's predefined push rules for one user, in the order the SDK expects (with the two rules
 * it otherwise adds itself, so it has nothing to warn about). The fake never sends pushes; the
 * SDK uses these to count notifications locally.
 */
import { localpartOf } from './ids.js';
import type { Json } from './types.js';

const highlight = ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }];
const notify = ['notify', { set_tweak: 'highlight', value: false }];
const notifySound = ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight', value: false }];
const type = (pattern: string): Json => ({ kind: 'event_match', key: 'type', pattern });
const rule = (rule_id: string, conditions: Json[], actions: unknown[], enabled = true): Json => ({ rule_id, default: true, enabled, conditions, actions });

export function defaultPushRules(userId: string): Json {
  const override = [
    rule('.m.rule.master', [], [], false),
    rule('.m.rule.suppress_notices', [{ kind: 'event_match', key: 'content.msgtype', pattern: 'm.notice' }], []),
    rule('.m.rule.invite_for_me', [type('m.room.member'), { kind: 'event_match', key: 'content.membership', pattern: 'invite' }, { kind: 'event_match', key: 'state_key', pattern: userId }], notifySound),
    rule('.m.rule.member_event', [type('m.room.member')], []),
    rule('.m.rule.is_user_mention', [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }], highlight),
    rule('.m.rule.contains_display_name', [{ kind: 'contains_display_name' }], highlight),
    rule('.m.rule.is_room_mention', [{ kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true }, { kind: 'sender_notification_permission', key: 'room' }], ['notify', { set_tweak: 'highlight' }]),
    rule('.m.rule.roomnotif', [{ kind: 'sender_notification_permission', key: 'room' }, { kind: 'event_match', key: 'content.body', pattern: '@room' }], ['notify', { set_tweak: 'highlight' }]),
    rule('.m.rule.tombstone', [type('m.room.tombstone'), { kind: 'event_match', key: 'state_key', pattern: '' }], ['notify', { set_tweak: 'highlight' }]),
    rule('.m.rule.reaction', [type('m.reaction')], []),
    rule('.m.rule.room.server_acl', [type('m.room.server_acl'), { kind: 'event_match', key: 'state_key', pattern: '' }], []),
    rule('.org.matrix.msc3786.rule.room.server_acl', [type('m.room.server_acl'), { kind: 'event_match', key: 'state_key', pattern: '' }], []),
    rule('.m.rule.suppress_edits', [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }], []),
  ];
  const content = [{ ...rule('.m.rule.contains_user_name', [], highlight), conditions: undefined, pattern: localpartOf(userId) }];
  const oneToOne = { kind: 'room_member_count', is: '2' };
  const underride = [
    rule('.m.rule.call', [type('m.call.invite')], ['notify', { set_tweak: 'sound', value: 'ring' }, { set_tweak: 'highlight', value: false }]),
    rule('.org.matrix.msc3914.rule.room.call', [type('org.matrix.msc3401.call'), { kind: 'call_started' }], ['notify', { set_tweak: 'sound', value: 'default' }]),
    rule('.m.rule.encrypted_room_one_to_one', [oneToOne, type('m.room.encrypted')], notifySound),
    rule('.m.rule.room_one_to_one', [oneToOne, type('m.room.message')], notifySound),
    rule('.m.rule.message', [type('m.room.message')], notify),
    rule('.m.rule.encrypted', [type('m.room.encrypted')], notify),
  ];
  return { global: { override, content: content.map(({ conditions: _c, ...r }) => r), room: [], sender: [], underride } };
}
