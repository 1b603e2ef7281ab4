/**
 * People doing things in Slack: saying and editing messages, running a slash command, clicking a
 * button, opening the assistant panel. Each becomes what Slack would deliver to the app.
 */
import { randomUUID } from 'node:crypto';
import type { Delivery } from './delivery.js';
import { appMentionEvent, blockActions, eventCallback, messageEvent, slashFields } from './payloads.js';
import { messageJson, type SlackState } from './state.js';
import type { AckRecord, ClickButtonInput, Json, SlashCommandInput, UserSaysInput } from './types.js';

export const DEFAULT_CHANNEL = 'C0GENERAL1';
export const DEFAULT_USER = 'U0ALICE001';

export interface IssuedResponseUrl {
  kind: 'slash' | 'action';
  channel: string;
  user: string;
  threadTs?: string;
  /** the message a button was clicked on */
  messageTs?: string;
}

export interface Core {
  state: SlackState;
  delivery: Delivery;
  baseUrl(): string;
  responseUrls: Map<string, IssuedResponseUrl>;
}

const channelType = (state: SlackState, channel: string, given?: string): string => given ?? (state.isIm(channel) ? 'im' : 'channel');

export function userSays(core: Core, input: UserSaysInput): string {
  const { state, delivery } = core;
  const channel = input.channel ?? DEFAULT_CHANNEL;
  const type = channelType(state, channel, input.channelType);
  const mention = `<@${state.id.botUserId}>`;
  const text = input.mentionsBot && !input.text.includes(mention) ? `${mention} ${input.text}` : input.text;
  const files = input.files?.map((f) => state.addFile(f, core.baseUrl()));
  const m = state.store({
    channel, ts: state.nextTs(), user: input.user ?? DEFAULT_USER, text,
    ...(input.threadTs ? { thread_ts: input.threadTs } : {}), ...(files && files.length > 0 ? { files } : {}),
  });
  // as on Slack: a mention in a channel is two events (app_mention and message); DMs never get app_mention
  if (type !== 'im' && text.includes(mention)) delivery.background('events_api', eventCallback(state, appMentionEvent(state, m)));
  delivery.background('events_api', eventCallback(state, messageEvent(state, m, type)));
  return m.ts;
}

export function userEdits(core: Core, channel: string, ts: string, newText: string): string {
  const { state } = core;
  const m = state.find(channel, ts);
  if (!m) throw new Error(`fake Slack: no message ${ts} in ${channel}`);
  const type = channelType(state, channel);
  const previous = messageEvent(state, m, type);
  m.history.push(m.text);
  m.text = newText;
  m.updates += 1;
  const editTs = state.nextTs();
  const current: Json = { ...messageEvent(state, m, type), edited: { user: m.user, ts: editTs } };
  for (const key of ['channel', 'event_ts', 'channel_type'] as const) {
    delete current[key];
    delete previous[key];
  }
  const event = { type: 'message', subtype: 'message_changed', message: current, previous_message: previous, channel, hidden: true, ts: editTs, event_ts: editTs, channel_type: type };
  const body = eventCallback(state, event);
  void core.delivery.background('events_api', body);
  return String(body.event_id);
}

/** An Events API event of any type; returns its `event_id`. */
export function deliverEvent(core: Core, event: Json): string {
  const body = eventCallback(core.state, { event_ts: core.state.nextTs(), ...event });
  void core.delivery.background('events_api', body);
  return String(body.event_id);
}

export function assistantThreadStarted(core: Core, input: { channel: string; threadTs: string; user?: string; context?: Json }): string {
  core.state.assistantThreads.add(`${input.channel}/${input.threadTs}`);
  return deliverEvent(core, {
    type: 'assistant_thread_started',
    assistant_thread: { user_id: input.user ?? DEFAULT_USER, context: input.context ?? {}, channel_id: input.channel, thread_ts: input.threadTs },
  });
}

function responseUrl(core: Core, issued: IssuedResponseUrl): string {
  const id = randomUUID();
  core.responseUrls.set(id, issued);
  return `${core.baseUrl()}response/${id}`;
}

export async function slashCommand(core: Core, input: SlashCommandInput): Promise<AckRecord> {
  const channel = input.channel ?? DEFAULT_CHANNEL;
  const user = input.user ?? DEFAULT_USER;
  const issued: IssuedResponseUrl = { kind: 'slash', channel, user, ...(input.threadTs ? { threadTs: input.threadTs } : {}) };
  const fields = slashFields(core.state, { command: input.command ?? '/tl', text: input.text, channel, user, responseUrl: responseUrl(core, issued) });
  const ack = await core.delivery.send('slash_commands', fields);
  // an ack with a body is shown like a response_url post (ephemeral unless response_type is in_channel)
  const body = typeof ack.payload === 'string' ? (ack.payload ? { text: ack.payload } : null) : (ack.payload as Json | null);
  if (body && (body.text || body.blocks)) respond(core, issued, body);
  return ack;
}

export async function clickButton(core: Core, input: ClickButtonInput): Promise<AckRecord> {
  const { state } = core;
  const channel = input.channel ?? DEFAULT_CHANNEL;
  const user = input.user ?? DEFAULT_USER;
  const m = state.find(channel, input.messageTs);
  if (!m) throw new Error(`fake Slack: no message ${input.messageTs} in ${channel}`);
  const blockId = input.blockId ?? findBlockId(m.blocks, input.actionId) ?? 'actions';
  const issued: IssuedResponseUrl = { kind: 'action', channel, user, messageTs: m.ts, ...(m.thread_ts ? { threadTs: m.thread_ts } : {}) };
  const payload = blockActions(state, {
    message: messageJson(m, state.id.teamId, state.id.appId), channel, user, actionId: input.actionId, blockId,
    ...(input.value !== undefined ? { value: input.value } : {}), responseUrl: responseUrl(core, issued),
  });
  return core.delivery.send('interactive', payload);
}

function findBlockId(blocks: unknown[] | undefined, actionId: string): string | undefined {
  for (const block of (blocks ?? []) as Array<{ block_id?: string; elements?: Array<{ action_id?: string }>; accessory?: { action_id?: string } }>) {
    if (block.elements?.some((e) => e.action_id === actionId) || block.accessory?.action_id === actionId) return block.block_id ?? 'actions';
  }
  return undefined;
}

/** A response_url post (or an ack with a body): replace/delete the original, or a new message. */
export function respond(core: Core, issued: IssuedResponseUrl, body: Json): void {
  const { state } = core;
  const original = issued.messageTs ? state.find(issued.channel, issued.messageTs) : undefined;
  if (original && body.delete_original === true) {
    original.deleted = true;
    return;
  }
  const blocks = Array.isArray(body.blocks) ? (body.blocks as unknown[]) : undefined;
  const text = typeof body.text === 'string' ? body.text : '';
  if (original && body.replace_original === true) {
    original.history.push(original.text);
    original.text = text;
    original.updates += 1;
    if (blocks) original.blocks = blocks;
    return;
  }
  const threadTs = typeof body.thread_ts === 'string' ? body.thread_ts : issued.threadTs;
  if (body.response_type === 'in_channel') {
    state.store({ channel: issued.channel, ts: state.nextTs(), user: state.id.botUserId, bot_id: state.id.botId, text, ...(blocks ? { blocks } : {}), ...(threadTs ? { thread_ts: threadTs } : {}) });
  } else {
    state.ephemerals.push({ channel: issued.channel, user: issued.user, text, message_ts: state.nextTs(), ...(blocks ? { blocks } : {}), ...(threadTs ? { thread_ts: threadTs } : {}) });
  }
}
