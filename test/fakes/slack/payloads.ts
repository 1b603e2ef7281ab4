/**
 * What Slack sends: Events API callbacks (`event_callback` with `event_id`, `event_time`,
 * `authorizations`), slash command fields and `block_actions` payloads, plus the Socket Mode
 * envelope around each of them.
 */
import { randomUUID } from 'node:crypto';
import { fileJson, type SlackState } from './state.js';
import type { Json, StoredMessage } from './types.js';

export type EnvelopeType = 'events_api' | 'slash_commands' | 'interactive';

export function eventCallback(state: SlackState, event: Json): Json {
  const id = state.id;
  return {
    token: 'fake-verification-token',
    team_id: id.teamId,
    context_team_id: id.teamId,
    context_enterprise_id: null,
    api_app_id: id.appId,
    event,
    type: 'event_callback',
    event_id: state.nextId('Ev', 11),
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ enterprise_id: null, team_id: id.teamId, user_id: id.botUserId, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
    event_context: `4-${Buffer.from(`${id.teamId}-${event.type}`).toString('base64url')}`,
  };
}

export function envelope(type: EnvelopeType, payload: Json, retry?: { attempt: number; reason: string }): Json {
  return {
    envelope_id: randomUUID(),
    type,
    payload,
    accepts_response_payload: type === 'slash_commands',
    ...(type === 'events_api' ? { retry_attempt: retry?.attempt ?? 0, retry_reason: retry?.reason ?? '' } : {}),
  };
}

export function richText(text: string): unknown[] {
  return [{ type: 'rich_text', block_id: randomUUID().slice(0, 5), elements: [{ type: 'rich_text_section', elements: [{ type: 'text', text }] }] }];
}

/** The `message` event for a user's message (with `subtype: 'file_share'` when it has files). */
export function messageEvent(state: SlackState, m: StoredMessage, channelType: string): Json {
  const parent = m.thread_ts && m.thread_ts !== m.ts ? state.find(m.channel, m.thread_ts) : undefined;
  return {
    type: 'message',
    ...(m.files ? { subtype: 'file_share', files: m.files.map(fileJson), upload: false, display_as_bot: false } : {}),
    ...(m.bot_id ? { bot_id: m.bot_id, app_id: state.id.appId, bot_profile: { id: m.bot_id, name: state.id.botName, app_id: state.id.appId } } : {}),
    user: m.user,
    text: m.text,
    ...(m.bot_id ? {} : { client_msg_id: randomUUID(), blocks: richText(m.text) }),
    ...(m.bot_id && m.blocks ? { blocks: m.blocks } : {}),
    ts: m.ts,
    team: state.id.teamId,
    ...(m.thread_ts && m.thread_ts !== m.ts ? { thread_ts: m.thread_ts, ...(parent ? { parent_user_id: parent.user } : {}) } : {}),
    channel: m.channel,
    event_ts: m.ts,
    channel_type: channelType,
  };
}

export function appMentionEvent(state: SlackState, m: StoredMessage): Json {
  return {
    type: 'app_mention',
    user: m.user,
    text: m.text,
    ts: m.ts,
    client_msg_id: randomUUID(),
    blocks: richText(m.text),
    team: state.id.teamId,
    ...(m.thread_ts && m.thread_ts !== m.ts ? { thread_ts: m.thread_ts } : {}),
    ...(m.files ? { files: m.files.map(fileJson) } : {}),
    channel: m.channel,
    event_ts: m.ts,
  };
}

export function triggerId(): string {
  return `${Math.floor(Date.now() / 1000)}.${Math.floor(Math.random() * 1e12)}.${randomUUID().replace(/-/g, '')}`;
}

export function slashFields(state: SlackState, input: { command: string; text: string; channel: string; user: string; responseUrl: string }): Record<string, string> {
  const id = state.id;
  const user = state.users.get(input.user);
  return {
    token: 'fake-verification-token',
    team_id: id.teamId,
    team_domain: id.teamDomain,
    channel_id: input.channel,
    channel_name: state.isIm(input.channel) ? 'directmessage' : (state.channelNames.get(input.channel) ?? input.channel.toLowerCase()),
    user_id: input.user,
    user_name: user?.name ?? input.user,
    command: input.command,
    text: input.text,
    api_app_id: id.appId,
    is_enterprise_install: 'false',
    response_url: input.responseUrl,
    trigger_id: triggerId(),
  };
}

export function blockActions(state: SlackState, input: { message: Json; channel: string; user: string; actionId: string; blockId: string; value?: string; responseUrl: string }): Json {
  const id = state.id;
  const user = state.users.get(input.user);
  const ts = String(input.message.ts);
  return {
    type: 'block_actions',
    user: { id: input.user, username: user?.name ?? input.user, name: user?.name ?? input.user, team_id: id.teamId },
    api_app_id: id.appId,
    token: 'fake-verification-token',
    container: { type: 'message', message_ts: ts, channel_id: input.channel, is_ephemeral: false, ...(input.message.thread_ts ? { thread_ts: input.message.thread_ts } : {}) },
    trigger_id: triggerId(),
    team: { id: id.teamId, domain: id.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: input.channel, name: state.channelNames.get(input.channel) ?? input.channel.toLowerCase() },
    message: input.message,
    state: { values: {} },
    response_url: input.responseUrl,
    actions: [
      {
        action_id: input.actionId, block_id: input.blockId, text: { type: 'plain_text', text: input.actionId, emoji: true },
        ...(input.value !== undefined ? { value: input.value } : {}), type: 'button', action_ts: `${(Date.now() / 1000).toFixed(6)}`,
      },
    ],
  };
}
