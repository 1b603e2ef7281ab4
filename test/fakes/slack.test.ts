/**
 * Proves the fake Slack against the real Bolt App in both transports: Socket Mode (hello, envelopes,
 * acks, reconnects) and HTTP (signed requests, retries), Web API routes and limits, slash commands,
 * buttons, the assistant panel and private file downloads.
 */
import { App, Assistant, LogLevel, SocketModeReceiver, webApi, type BlockAction, type Logger } from '@slack/bolt';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack, type FakeSlackOptions } from './slack/index.js';
import { until } from '../support/wait.js';

const DM = 'D0ALICEDM1';

/** Bolt's logger, silenced (bad-signature tests make it complain on purpose); keeps what it said. */
function quietLogger(lines: string[] = []): Logger {
  let level = LogLevel.ERROR;
  const keep = (...msg: unknown[]) => void lines.push(msg.map(String).join(' '));
  return { debug: () => undefined, info: () => undefined, warn: keep, error: keep, setLevel: (l) => void (level = l), getLevel: () => level, setName: () => undefined };
}

let slack: FakeSlack | undefined;
let app: App | undefined;

afterEach(async () => {
  await app?.stop().catch(() => undefined);
  await slack?.close();
  app = undefined;
  slack = undefined;
});

type Transport = 'socket' | 'http';

/** The real Bolt App against the fake in `transport`; `setup` registers listeners before start. */
async function startApp(transport: Transport, setup: (a: App) => void = () => undefined, options: FakeSlackOptions = {}): Promise<{ slack: FakeSlack; app: App }> {
  slack = await startFakeSlack(options);
  const clientOptions = { slackApiUrl: slack.apiUrl };
  const logger = quietLogger();
  app =
    transport === 'socket'
      ? new App({ token: slack.botToken, appToken: slack.appToken, socketMode: true, clientOptions, installerOptions: { clientOptions }, logger })
      : new App({ token: slack.botToken, signingSecret: slack.signingSecret, clientOptions, logger });
  setup(app);
  const server = await app.start({ port: 0, host: '127.0.0.1' });
  slack.transport = transport;
  if (transport === 'http') slack.httpTarget = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  return { slack, app };
}

describe('Socket Mode', () => {
  it('connects with the app token, gets hello, receives app_mention + message and replies in the thread', async () => {
    const seen: string[] = [];
    const { slack } = await startApp('socket', (a) => {
      a.event('app_mention', async ({ event, client, body }) => {
        seen.push(`mention:${(body as { event_id: string }).event_id}`);
        await client.chat.postMessage({ channel: event.channel, thread_ts: event.thread_ts ?? event.ts, text: `echo: ${event.text}` });
      });
      a.message(async ({ message }) => void seen.push(`message:${'text' in message ? message.text : ''}`));
    }, { echoBotMessages: true });
    expect(slack.socketConnections).toEqual({ open: 1, total: 1 });
    const open = slack.callsTo('apps.connections.open');
    expect(open).toHaveLength(1);
    expect(open[0]!.token).toBe(slack.appToken);

    const ts = slack.userSays({ channel: slack.channelId, text: 'hello there', mentionsBot: true });
    await slack.idle();
    const reply = await until(() => slack.messages(slack.channelId, ts)[0]);
    expect(reply.text).toBe(`echo: <@${slack.botUserId}> hello there`);
    expect(reply.thread_ts).toBe(ts);
    expect(seen).toContain(`message:<@${slack.botUserId}> hello there`);
    expect(seen.filter((s) => s.startsWith('mention:'))).toHaveLength(1);
    // app_mention, message and the echo of the bot's reply (which Bolt's ignoreSelf drops), each acked in its own envelope
    await until(() => slack.acks.length === 3);
    await slack.idle();
    expect(seen).toHaveLength(2);
    expect(slack.deliveredEvent(slack.eventIds[2]!)!.event).toMatchObject({ type: 'message', bot_id: slack.botId, user: slack.botUserId, thread_ts: ts });
    expect(new Set(slack.acks.map((a) => a.envelopeId)).size).toBe(3);
    const body = slack.deliveredEvent(slack.eventIds[0]!)!;
    expect(body).toMatchObject({ type: 'event_callback', team_id: slack.teamId, api_app_id: slack.appId, authorizations: [{ user_id: slack.botUserId, is_bot: true }] });
    expect(typeof body.event_time).toBe('number');
    // the bot replied with the bot token
    expect(slack.callsTo('chat.postMessage')[0]!.token).toBe(slack.botToken);
  });

  it('DMs get only a message event (channel_type im), and edits arrive as message_changed', async () => {
    const events: Array<{ type: string; subtype?: string; channel_type?: string; text?: string; prev?: string }> = [];
    const { slack } = await startApp('socket', (a) => {
      a.event('app_mention', async () => void events.push({ type: 'app_mention' }));
      a.event('message', async ({ event }) => {
        const e = event as { subtype?: string; channel_type?: string; text?: string; message?: { text: string }; previous_message?: { text: string } };
        events.push({ type: 'message', ...(e.subtype ? { subtype: e.subtype, text: e.message!.text, prev: e.previous_message!.text } : { text: e.text! }), ...(e.channel_type ? { channel_type: e.channel_type } : {}) });
      });
    });
    const ts = slack.userSays({ channel: DM, text: 'psst', mentionsBot: true });
    slack.userEdits(DM, ts, 'psst, edited');
    await slack.idle();
    expect(events).toEqual([
      { type: 'message', text: `<@${slack.botUserId}> psst`, channel_type: 'im' },
      { type: 'message', subtype: 'message_changed', text: 'psst, edited', prev: `<@${slack.botUserId}> psst`, channel_type: 'im' },
    ]);
  });

  it('stops and closes without hanging, and reconnects after a disconnect message', async () => {
    slack = await startFakeSlack();
    const clientOptions = { slackApiUrl: slack.apiUrl };
    const got: string[] = [];
    const receiver = new SocketModeReceiver({ appToken: slack.appToken, clientPingTimeout: 300, installerOptions: { clientOptions }, logger: quietLogger() });
    app = new App({ token: slack.botToken, receiver, clientOptions, logger: quietLogger() });
    app.message(async ({ message }) => void got.push('text' in message ? (message.text ?? '') : ''));
    await app.start();
    slack.disconnectSockets();
    await until(() => slack!.socketConnections.total === 2 && slack!.socketConnections.open === 1);
    slack.userSays({ text: 'after reconnect' });
    await slack.idle();
    expect(got).toEqual(['after reconnect']);
    const started = Date.now();
    await app.stop();
    app = undefined;
    await slack.close();
    slack = undefined;
    expect(Date.now() - started).toBeLessThan(10_000); // not the 30 s a socket left open holds the process
  });
});

describe('HTTP mode', () => {
  it('takes a signed event; a bad signature or a stale timestamp gets 401', async () => {
    const texts: string[] = [];
    const { slack } = await startApp('http', (a) => a.message(async ({ message }) => void texts.push('text' in message ? (message.text ?? '') : '')));
    slack.userSays({ text: 'over http' });
    await slack.idle();
    expect(texts).toEqual(['over http']);
    expect(slack.acks.at(-1)).toMatchObject({ transport: 'http', kind: 'events_api', status: 200 });

    const body = slack.deliveredEvent(slack.eventIds[0]!)!;
    expect(await slack.signedPost('/slack/events', body, { badSignature: true })).toBe(401);
    expect(await slack.signedPost('/slack/events', body, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 })).toBe(401);
    expect(await slack.signedPost('/slack/events', body)).toBe(200);
    expect(texts).toEqual(['over http', 'over http']);
  });
});

describe.each<Transport>(['socket', 'http'])('both transports (%s)', (transport) => {
  it('redelivers an event with its retry number and reason', async () => {
    const seen: Array<{ id: string; retryNum: number | undefined; retryReason: string | undefined }> = [];
    const { slack } = await startApp(transport, (a) =>
      a.message(async ({ body, context }) => void seen.push({ id: (body as { event_id: string }).event_id, retryNum: context.retryNum, retryReason: context.retryReason })),
    );
    slack.userSays({ text: 'once' });
    await slack.idle();
    const [eventId] = slack.eventIds;
    await slack.redeliver(eventId!, 2);
    const reason = transport === 'http' ? 'http_timeout' : 'timeout';
    expect(seen).toEqual([
      { id: eventId, retryNum: transport === 'socket' ? 0 : undefined, retryReason: transport === 'socket' ? '' : undefined },
      { id: eventId, retryNum: 1, retryReason: reason },
      { id: eventId, retryNum: 2, retryReason: reason },
    ]);
  });

  it('acks a slash command with a response and records the response_url post', async () => {
    let payload: Record<string, string> = {};
    const { slack } = await startApp(transport, (a) =>
      a.command('/tl', async ({ command, ack, respond }) => {
        payload = command as unknown as Record<string, string>;
        await ack('working on it');
        await respond({ response_type: 'in_channel', text: `done: ${command.text}` });
      }),
    );
    const ack = await slack.slashCommand({ command: '/tl', text: 'status', channel: slack.channelId, user: slack.userId });
    await until(() => slack.responseUrlPosts.length === 1); // Bolt acks before the listener's respond()
    expect(ack.payload).toEqual(transport === 'socket' ? { text: 'working on it' } : 'working on it');
    expect(payload).toMatchObject({ command: '/tl', text: 'status', channel_id: slack.channelId, user_id: slack.userId, team_id: slack.teamId });
    expect(payload.response_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/response\//);
    expect(payload.trigger_id).toBeTruthy();
    expect(slack.responseUrlPosts).toMatchObject([{ kind: 'slash', body: { response_type: 'in_channel', text: 'done: status' } }]);
    expect(slack.ephemeral(slack.channelId)).toMatchObject([{ user: slack.userId, text: 'working on it' }]);
    expect(slack.messages(slack.channelId).map((m) => m.text)).toEqual(['done: status']);
  });

  it('delivers a button click to app.action and applies replace_original', async () => {
    const clicks: Array<{ value?: string; messageTs: string; user: string }> = [];
    const { slack } = await startApp(transport, (a) =>
      a.action<BlockAction>('tl_retry', async ({ ack, body, action, respond }) => {
        await ack();
        clicks.push({ ...('value' in action && action.value ? { value: action.value } : {}), messageTs: body.container.message_ts as string, user: body.user.id });
        await respond({ replace_original: true, text: 'retrying…' });
      }),
    );
    const posted = await app!.client.chat.postMessage({
      channel: slack.channelId, text: 'answer',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'answer' } }, { type: 'actions', block_id: 'tl', elements: [{ type: 'button', action_id: 'tl_retry', text: { type: 'plain_text', text: 'Retry' }, value: 'turn-7' }] }],
    });
    const ack = await slack.clickButton({ messageTs: posted.ts!, channel: slack.channelId, actionId: 'tl_retry', value: 'turn-7' });
    expect(ack.kind).toBe('interactive');
    await until(() => slack.responseUrlPosts.length === 1);
    expect(clicks).toEqual([{ value: 'turn-7', messageTs: posted.ts, user: slack.userId }]);
    expect(slack.responseUrlPosts[0]).toMatchObject({ kind: 'action', body: { replace_original: true } });
    expect(slack.messages(slack.channelId)[0]).toMatchObject({ ts: posted.ts, text: 'retrying…', updates: 1 });
  });

  it('starts an assistant thread in an Assistant and records status, title and prompts', async () => {
    const { slack } = await startApp(transport, (a) =>
      a.assistant(
        new Assistant({
          threadStarted: async ({ say, setSuggestedPrompts, setTitle }) => {
            await say('How can I help?');
            await setTitle('New chat');
            await setSuggestedPrompts({ prompts: [{ title: 'Summarize', message: 'Summarize this channel' }] });
          },
          userMessage: async ({ setStatus, say }) => {
            await setStatus('is thinking…');
            await say('an answer');
          },
        }),
      ),
    );
    const threadTs = '1732269999.000100';
    slack.assistantThreadStarted({ channel: DM, threadTs, user: slack.userId });
    await slack.idle();
    await until(() => slack.assistantCalls.length === 2); // events are acked before their listeners run
    slack.userSays({ channel: DM, text: 'what is up?', threadTs });
    await slack.idle();
    await until(() => slack.messages(DM, threadTs).length === 2);
    expect(slack.messages(DM, threadTs).map((m) => m.text)).toEqual(['How can I help?', 'an answer']);
    expect(slack.assistantCalls.map(({ at: _at, ...c }) => c)).toEqual([
      { method: 'setTitle', channel_id: DM, thread_ts: threadTs, title: 'New chat' },
      { method: 'setSuggestedPrompts', channel_id: DM, thread_ts: threadTs, prompts: [{ title: 'Summarize', message: 'Summarize this channel' }] },
      { method: 'setStatus', channel_id: DM, thread_ts: threadTs, status: 'is thinking…' },
    ]);
  });
});

describe('Web API', () => {
  async function client(options: FakeSlackOptions = {}): Promise<{ slack: FakeSlack; web: webApi.WebClient }> {
    slack = await startFakeSlack(options);
    return { slack, web: new webApi.WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, logger: quietLogger() }) };
  }
  const errorOf = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'no error',
      (e: { data?: { error?: string }; code?: string }) => e.data?.error ?? e.code ?? String(e),
    );

  it('posts, updates (counted, rate limited per message), deletes, and validates sizes', async () => {
    // a clock that stands still: no update comes back between the calls, however slow the machine
    const { slack, web } = await client({ updateLimit: { perSecond: 1, burst: 2 }, now: () => 0 });
    const a = await web.chat.postMessage({ channel: slack.channelId, text: 'one' });
    const b = await web.chat.postMessage({ channel: slack.channelId, text: 'two', thread_ts: a.ts! });
    expect(Number(b.ts)).toBeGreaterThan(Number(a.ts));
    expect(a.ts).toMatch(/^\d{10}\.\d{6}$/);
    await web.chat.update({ channel: slack.channelId, ts: a.ts!, text: 'one, edited' });
    await web.chat.update({ channel: slack.channelId, ts: a.ts!, text: 'one, edited again' });
    expect(await errorOf(web.chat.update({ channel: slack.channelId, ts: a.ts!, text: 'too fast' }))).toBe(webApi.ErrorCode.RateLimitedError);
    await web.chat.update({ channel: slack.channelId, ts: b.ts!, text: 'two, edited' }); // another message has its own bucket
    expect(slack.rateLimited).toBe(1);
    expect(slack.callsTo('chat.update').map((c) => c.status)).toEqual([200, 200, 429, 200]);
    expect(slack.updatesPerMessage()).toEqual({ [`${slack.channelId}/${a.ts}`]: 2, [`${slack.channelId}/${b.ts}`]: 1 });
    expect(slack.messages(slack.channelId, a.ts).map((m) => m.text)).toEqual(['one, edited again', 'two, edited']);

    expect(await errorOf(web.chat.postMessage({ channel: slack.channelId, text: 'x'.repeat(40_001) }))).toBe('msg_too_long');
    const long = [{ type: 'section', text: { type: 'mrkdwn', text: 'y'.repeat(3_001) } }];
    expect(await errorOf(web.chat.postMessage({ channel: slack.channelId, text: 'fallback', blocks: long }))).toBe('invalid_blocks');
    await web.chat.delete({ channel: slack.channelId, ts: b.ts! });
    expect(slack.messages(slack.channelId).map((m) => m.ts)).toEqual([a.ts]);
    expect(await errorOf(web.chat.delete({ channel: slack.channelId, ts: b.ts! }))).toBe('message_not_found');
  });

  it('answers auth, conversations, users and ephemeral calls, checks tokens and records unknown methods', async () => {
    const { slack, web } = await client();
    expect(await web.auth.test()).toMatchObject({ ok: true, user_id: slack.botUserId, bot_id: slack.botId, team_id: slack.teamId });
    expect((await web.conversations.info({ channel: DM })).channel).toMatchObject({ is_im: true });
    expect((await web.conversations.info({ channel: slack.channelId })).channel).toMatchObject({ is_channel: true, is_im: false, name: 'general' });
    expect((await web.users.info({ user: slack.userId })).user).toMatchObject({ name: 'alice', real_name: 'Alice Example', profile: { display_name: 'Alice' } });
    expect(await errorOf(web.users.info({ user: 'U0NOBODY01' }))).toBe('user_not_found');

    slack.transport = 'http';
    slack.httpTarget = 'http://127.0.0.1:1/slack/events'; // nobody listens: the delivery fails in the background, the state stays
    const parent = slack.userSays({ text: 'thread root' });
    await web.chat.postMessage({ channel: slack.channelId, thread_ts: parent, text: 'bot reply' });
    const replies = await web.conversations.replies({ channel: slack.channelId, ts: parent });
    expect(replies.messages!.map((m) => [m.text, m.user])).toEqual([['thread root', slack.userId], ['bot reply', slack.botUserId]]);
    await expect(slack.idle()).rejects.toThrow(/delivery failure/);

    await web.chat.postEphemeral({ channel: slack.channelId, user: slack.userId, text: 'only you', thread_ts: parent });
    expect(slack.ephemeral(slack.channelId)).toMatchObject([{ user: slack.userId, text: 'only you', thread_ts: parent }]);
    expect(slack.messages(slack.channelId, parent).map((m) => m.text)).toEqual(['bot reply']);

    expect(await errorOf(web.apiCall('chat.frobnicate', {}))).toBe('unknown_method');
    expect(slack.callsTo('chat.frobnicate')).toMatchObject([{ ok: false, error: 'unknown_method' }]);
    expect(await errorOf(web.apps.connections.open({}))).toBe('not_allowed_token_type');
    expect(await errorOf(web.auth.test({ token: 'xoxb-wrong' }))).toBe('invalid_auth');
  });

  it('serves url_private only with the bot token, as the app would fetch it', async () => {
    const fetched: Array<{ status: number; body: string }> = [];
    const { slack } = await startApp('socket', (a) =>
      a.message(async ({ message }) => {
        const file = (message as { files?: Array<{ url_private: string; name: string }> }).files![0]!;
        for (const headers of [{} as Record<string, string>, { Authorization: `Bearer ${slack!.appToken}` }, { Authorization: `Bearer ${slack!.botToken}` }]) {
          const res = await fetch(file.url_private, { headers });
          fetched.push({ status: res.status, body: res.status === 200 ? await res.text() : '' });
        }
      }),
    );
    slack.userSays({ text: 'see attached', files: [{ name: 'notes.txt', content: 'secret notes' }] });
    await slack.idle();
    await until(() => fetched.length === 3);
    expect(fetched).toEqual([{ status: 401, body: '' }, { status: 401, body: '' }, { status: 200, body: 'secret notes' }]);
    expect(slack.fileFetches.map((f) => f.token)).toEqual([undefined, slack.appToken, slack.botToken]);
  });
});
