/**
 * Web API methods (`POST /api/<method>`, form-encoded or JSON). Slack answers HTTP 200 with
 * `{ ok: false, error }` for every failure except rate limits (429 + Retry-After).
 * Tokens: `apps.connections.open` takes only the app token; everything else the bot token.
 */
import { checkContent, type UpdateLimiter } from './limits.js';
import { messageJson, type SlackState } from './state.js';
import type { FakeChannel, Json, StoredMessage } from './types.js';

export interface ApiResult {
  status: number;
  body: Json;
  headers?: Record<string, string>;
}

export interface ApiContext {
  state: SlackState;
  limiter: UpdateLimiter;
  /** a fresh `ws://…/socket?ticket=…` */
  socketUrl(): string;
  onBotMessage(m: StoredMessage): void;
}

type Handler = (ctx: ApiContext, args: Json) => ApiResult;

const ok = (body: Json = {}): ApiResult => ({ status: 200, body: { ok: true, ...body } });
const fail = (error: string): ApiResult => ({ status: 200, body: { ok: false, error } });
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);

/** JSON-valued arguments arrive as strings in form-encoded calls. */
function parsed(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function json(ctx: ApiContext, m: StoredMessage): Json {
  return messageJson(m, ctx.state.id.teamId, ctx.state.id.appId);
}

/**
 * As Slack describes conversations: `is_channel` for channels, public or private (except private
 * channels from before 2021, `G…` ids, which are `is_group` instead), `is_private` for all but
 * public channels, `is_im` / `is_mpim` for DMs and group DMs.
 */
function channelInfo(ctx: ApiContext, c: FakeChannel): Json {
  const members = ctx.state.membersOf(c);
  if (c.kind === 'im') {
    return { id: c.id, created: 1_700_000_000, is_im: true, is_channel: false, is_group: false, is_mpim: false, is_private: true, is_org_shared: false, user: c.user, is_open: true, is_user_deleted: false };
  }
  const legacyGroup = c.kind === 'private' && c.id.startsWith('G');
  return {
    id: c.id, name: c.name, created: 1_700_000_000,
    is_channel: c.kind !== 'mpim' && !legacyGroup, is_group: legacyGroup, is_im: false, is_mpim: c.kind === 'mpim', is_private: c.kind !== 'public',
    is_archived: false, is_general: c.id === 'C0GENERAL1', is_member: members.includes(ctx.state.id.botUserId), is_shared: false, is_ext_shared: false, is_org_shared: false,
  };
}

/** The conversation, if the bot may look at it: private ones only from inside, as on Slack. */
function visibleToBot(ctx: ApiContext, id: string | undefined): FakeChannel | undefined {
  const c = id ? ctx.state.channel(id) : undefined;
  if (!c) return undefined;
  return c.kind === 'public' || ctx.state.membersOf(c).includes(ctx.state.id.botUserId) ? c : undefined;
}

const cursorOf = (offset: number): string => Buffer.from(`member:${offset}`).toString('base64');
function offsetOf(cursor: string | undefined): number | null {
  if (!cursor) return 0;
  const match = /^member:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString());
  return match ? Number(match[1]) : null;
}

const handlers: Record<string, Handler> = {
  'auth.test': (ctx) => {
    const id = ctx.state.id;
    return ok({ url: `https://${id.teamDomain}.slack.com/`, team: 'Threadloom Test', user: id.botName, team_id: id.teamId, user_id: id.botUserId, bot_id: id.botId, is_enterprise_install: false });
  },
  'apps.connections.open': (ctx) => ok({ url: ctx.socketUrl() }),

  'chat.postMessage': (ctx, args) => {
    const channel = str(args.channel);
    if (!channel) return fail('channel_not_found');
    const verdict = checkContent(args.text, args.blocks);
    if (!verdict.ok) return fail(verdict.error);
    const id = ctx.state.id;
    const threadTs = str(args.thread_ts);
    const m = ctx.state.store({
      channel, ts: ctx.state.nextTs(), user: id.botUserId, bot_id: id.botId, text: str(args.text) ?? '', ...(verdict.blocks ? { blocks: verdict.blocks } : {}),
      ...(threadTs ? { thread_ts: threadTs } : {}), ...(args.metadata !== undefined ? { metadata: parsed(args.metadata) } : {}),
    });
    ctx.onBotMessage(m);
    return ok({ channel, ts: m.ts, message: json(ctx, m) });
  },
  'chat.update': (ctx, args) => {
    const channel = str(args.channel);
    const ts = str(args.ts);
    if (!channel || !ts) return fail(channel ? 'message_not_found' : 'channel_not_found');
    const m = ctx.state.find(channel, ts);
    if (!m) return fail('message_not_found');
    if (m.user !== ctx.state.id.botUserId) return fail('cant_update_message');
    const verdict = checkContent(args.text, args.blocks, false);
    if (!verdict.ok) return fail(verdict.error);
    const retryAfter = ctx.limiter.take(`${channel}/${ts}`);
    if (retryAfter !== null) return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': String(retryAfter) } };
    m.history.push(m.text);
    m.updates += 1;
    if (typeof args.text === 'string') m.text = args.text;
    if (verdict.blocks) m.blocks = verdict.blocks;
    if (args.metadata !== undefined) m.metadata = parsed(args.metadata);
    return ok({ channel, ts, text: m.text, message: json(ctx, m) });
  },
  'chat.delete': (ctx, args) => {
    const channel = str(args.channel) ?? '';
    const m = ctx.state.find(channel, str(args.ts) ?? '');
    if (!m) return fail('message_not_found');
    if (m.user !== ctx.state.id.botUserId) return fail('cant_delete_message');
    m.deleted = true;
    return ok({ channel, ts: m.ts });
  },
  'chat.postEphemeral': (ctx, args) => {
    const channel = str(args.channel);
    const user = str(args.user);
    if (!channel) return fail('channel_not_found');
    if (!user || !ctx.state.users.has(user)) return fail('user_not_found');
    const verdict = checkContent(args.text, args.blocks);
    if (!verdict.ok) return fail(verdict.error);
    const threadTs = str(args.thread_ts);
    const message_ts = ctx.state.nextTs();
    ctx.state.ephemerals.push({ channel, user, text: str(args.text) ?? '', message_ts, ...(verdict.blocks ? { blocks: verdict.blocks } : {}), ...(threadTs ? { thread_ts: threadTs } : {}) });
    return ok({ message_ts });
  },
  'conversations.info': (ctx, args) => {
    const channel = visibleToBot(ctx, str(args.channel));
    if (!channel) return fail('channel_not_found');
    return ok({ channel: channelInfo(ctx, channel) });
  },
  'conversations.members': (ctx, args) => {
    const channel = visibleToBot(ctx, str(args.channel));
    if (!channel) return fail('channel_not_found');
    const offset = offsetOf(str(args.cursor));
    if (offset === null) return fail('invalid_cursor');
    const limit = Math.min(1000, Math.max(1, Number(str(args.limit) ?? 100)));
    const members = ctx.state.membersOf(channel);
    const next = offset + limit < members.length ? cursorOf(offset + limit) : '';
    return ok({ members: members.slice(offset, offset + limit), response_metadata: { next_cursor: next } });
  },
  'chat.getPermalink': (ctx, args) => {
    const channel = visibleToBot(ctx, str(args.channel));
    if (!channel) return fail('channel_not_found');
    const m = ctx.state.find(channel.id, str(args.message_ts) ?? '');
    if (!m) return fail('message_not_found');
    const reply = m.thread_ts && m.thread_ts !== m.ts ? `?thread_ts=${m.thread_ts}&cid=${channel.id}` : '';
    return ok({ channel: channel.id, permalink: `https://${ctx.state.id.teamDomain}.slack.com/archives/${channel.id}/p${m.ts.replace('.', '')}${reply}` });
  },
  'conversations.replies': (ctx, args) => {
    const channel = str(args.channel) ?? '';
    const ts = str(args.ts) ?? '';
    let thread = ctx.state.thread(channel, ts);
    if (thread.length === 0 && !ctx.state.assistantThreads.has(`${channel}/${ts}`)) return fail('thread_not_found');
    const oldest = Number(str(args.oldest) ?? 0);
    const latest = Number(str(args.latest) ?? Infinity);
    thread = thread.filter((m) => Number(m.ts) >= oldest && Number(m.ts) <= latest);
    const limit = Number(str(args.limit) ?? 1000);
    return ok({ messages: thread.slice(0, limit).map((m) => json(ctx, m)), has_more: thread.length > limit, response_metadata: { next_cursor: '' } });
  },
  'users.info': (ctx, args) => {
    const u = ctx.state.users.get(str(args.user) ?? '');
    if (!u) return fail('user_not_found');
    const profile = { real_name: u.realName, display_name: u.displayName, real_name_normalized: u.realName, display_name_normalized: u.displayName, team: ctx.state.id.teamId };
    return ok({
      user: {
        id: u.id, team_id: ctx.state.id.teamId, name: u.name, real_name: u.realName, deleted: false, is_bot: u.isBot ?? false, is_admin: false,
        is_restricted: u.guest !== undefined, is_ultra_restricted: u.guest === 'single', tz: 'Europe/Berlin', profile,
      },
    });
  },
  'files.info': (ctx, args) => {
    const f = ctx.state.files.get(str(args.file) ?? '');
    if (!f) return fail('file_not_found');
    const { content: _content, ...file } = f;
    return ok({ file: { ...file, mode: 'hosted' }, content: '', comments: [] });
  },
  'assistant.threads.setStatus': (ctx, args) => assistant(ctx, args, 'setStatus', { status: str(args.status) ?? '' }),
  'assistant.threads.setTitle': (ctx, args) => assistant(ctx, args, 'setTitle', { title: str(args.title) ?? '' }),
  'assistant.threads.setSuggestedPrompts': (ctx, args) => {
    const prompts = parsed(args.prompts);
    if (!Array.isArray(prompts) || prompts.length === 0 || prompts.length > 4) return fail('invalid_arguments');
    return assistant(ctx, args, 'setSuggestedPrompts', { prompts, ...(str(args.title) ? { title: str(args.title) } : {}) });
  },
};

function assistant(ctx: ApiContext, args: Json, method: 'setStatus' | 'setTitle' | 'setSuggestedPrompts', extra: Json): ApiResult {
  const channel_id = str(args.channel_id);
  const thread_ts = str(args.thread_ts);
  if (!channel_id || !thread_ts) return fail('invalid_arguments');
  ctx.state.assistantCalls.push({ method, channel_id, thread_ts, ...extra, at: Date.now() });
  return ok();
}

/** Runs `method` with the caller's token and records the call. */
export function callApi(ctx: ApiContext, method: string, args: Json, token: string | undefined): ApiResult {
  const id = ctx.state.id;
  const handler = handlers[method];
  let result: ApiResult;
  if (!handler) result = fail('unknown_method');
  else if (!token) result = fail('not_authed');
  else if (method === 'apps.connections.open') result = token === id.appToken ? handler(ctx, args) : fail(token === id.botToken ? 'not_allowed_token_type' : 'invalid_auth');
  else if (token === id.appToken) result = fail('not_allowed_token_type');
  else if (token !== id.botToken) result = fail('invalid_auth');
  else result = handler(ctx, args);
  const error = result.body.ok ? undefined : String(result.body.error);
  ctx.state.calls.push({ method, token, args, status: result.status, ok: result.body.ok === true, ...(error ? { error } : {}), at: Date.now() });
  return result;
}
