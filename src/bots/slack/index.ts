import type { AddressInfo, ListenOptions } from 'node:net';
import type { Server } from 'node:http';
import { App, Assistant, LogLevel, type BlockAction } from '@slack/bolt';
import { isActionName, type ActionName, type Inbound } from '../../core/inbound.js';
import type { AdapterContext, AdapterStatus, ChatAdapter } from '../adapter.js';
import { AdapterHealth } from '../health.js';
import { createSlackDirectory } from './directory.js';
import { SLACK, attachmentsOf, isDirectChannel, messageInbound, type SlackMessage } from './inbound.js';
import { ACTION_PREFIX, SlackReply, messageKey } from './reply.js';

const ASSISTANT_PROMPTS = 4;

/**
 * Threadloom on Slack: a mention answers in the message's thread, the thread continues without a
 * mention, DMs and the assistant panel work the same; one slash command (`/tl`) for the command
 * table; Block Kit buttons under answers. Socket Mode with an app token, else HTTP with signing.
 */
export function createSlackAdapter({ engine, config, log }: AdapterContext): ChatAdapter & { app: App; httpUrl(): string | null } {
  const settings = config.slack;
  const botToken = settings.botToken!;
  const apiUrl = settings.apiURL ? (settings.apiURL.endsWith('/') ? settings.apiURL : `${settings.apiURL}/`) : undefined;
  const clientOptions = apiUrl ? { slackApiUrl: apiUrl } : {};
  const app = new App({
    token: botToken,
    ...(settings.appToken
      ? { socketMode: true, appToken: settings.appToken, installerOptions: { clientOptions } }
      : { signingSecret: settings.signingSecret! }),
    clientOptions,
    logLevel: LogLevel.ERROR,
  });
  let botUserId = '';
  const health = new AdapterHealth(SLACK, log);
  let server: Server | null = null;
  const names = new Map<string, string>();

  async function displayName(userId: string): Promise<string> {
    const known = names.get(userId);
    if (known) return known;
    try {
      const info = await app.client.users.info({ user: userId });
      const name = info.user?.profile?.display_name || info.user?.real_name || info.user?.name || userId;
      names.set(userId, name);
      return name;
    } catch {
      return userId;
    }
  }

  async function onMessage(message: SlackMessage, kind: 'message' | 'edit', assistant?: { setStatus: (s: string) => Promise<void>; setTitle: (t: string) => Promise<void> }): Promise<void> {
    if (message.bot_id || !message.user || message.user === botUserId) return;
    const direct = isDirectChannel(message);
    const inbound = messageInbound(message, { botUserId, kind });
    // files are downloaded and names looked up only for what will be answered
    if ((await engine.admit(inbound)) !== 'admitted') return;
    inbound.attachments = await attachmentsOf(message.files, botToken);
    inbound.author.name = await displayName(message.user);
    const reply = new SlackReply(
      app.client,
      { channel: message.channel, threadTs: inbound.threadId, userId: message.user, sourceTs: direct ? null : message.ts },
      settings.editIntervalMs,
    );
    if (assistant) {
      reply.setStatus = assistant.setStatus;
      reply.setTitle = assistant.setTitle;
    }
    await engine.handle(inbound, reply);
  }

  const guard = (what: string, work: () => Promise<void>): Promise<void> => health.guard(what, work);

  app.event('app_mention', async ({ event }) => guard('mention', () => onMessage(event as unknown as SlackMessage, 'message')));
  app.message(async ({ message }) => {
    const m = message as unknown as SlackMessage & { message?: SlackMessage };
    if (m.subtype === 'message_changed' && m.message) {
      return guard('edit', () => onMessage({ ...m.message!, channel: m.channel, channel_type: m.channel_type }, 'edit'));
    }
    if (m.subtype && m.subtype !== 'file_share' && m.subtype !== 'thread_broadcast') return;
    return guard('message', () => onMessage(m, 'message'));
  });

  app.command(settings.command, async ({ command, ack }) => {
    await ack();
    await guard('command', async () => {
      const [name = 'help', ...rest] = command.text.trim().split(/\s+/).filter(Boolean);
      const direct = command.channel_id.startsWith('D');
      const inbound: Inbound = {
        platform: SLACK,
        eventId: `command:${command.trigger_id}`,
        channelId: command.channel_id,
        threadId: null,
        messageId: `command:${command.trigger_id}`,
        author: { id: command.user_id, name: await displayName(command.user_id), isBot: false },
        text: `${settings.command} ${command.text}`.trim(),
        attachments: [],
        replyTo: null,
        mentionsBot: true,
        isDirect: direct,
        kind: 'command',
        command: { name: name.toLowerCase(), args: rest.join(' ') },
      };
      const reply = new SlackReply(app.client, { channel: command.channel_id, threadTs: null, userId: command.user_id, sourceTs: null }, settings.editIntervalMs);
      await engine.handle(inbound, reply);
    });
  });

  app.action(new RegExp(`^${ACTION_PREFIX}`), async ({ ack, body, action }) => {
    await ack();
    await guard('button', async () => {
      const click = body as BlockAction;
      const name = ('action_id' in action ? action.action_id : '').slice(ACTION_PREFIX.length) as ActionName;
      const channel = click.channel?.id;
      const ts = click.message?.ts;
      if (!channel || !ts || !isActionName(name)) return;
      const threadTs = (click.message?.thread_ts as string | undefined) ?? null;
      const inbound: Inbound = {
        platform: SLACK,
        eventId: `action:${click.trigger_id ?? `${channel}:${ts}:${Date.now()}`}`,
        channelId: channel,
        threadId: threadTs,
        messageId: messageKey(channel, ts),
        author: { id: click.user.id, name: await displayName(click.user.id), isBot: false },
        text: '',
        attachments: [],
        replyTo: null,
        mentionsBot: true,
        isDirect: channel.startsWith('D'),
        kind: 'action',
        action: { name, targetMessageId: messageKey(channel, ts) },
      };
      await engine.handle(inbound, new SlackReply(app.client, { channel, threadTs, userId: click.user.id, sourceTs: null }, settings.editIntervalMs));
    });
  });

  // Slack's AI assistant panel: suggested prompts from the Experience, status while thinking, a title
  app.assistant(
    new Assistant({
      threadStarted: async ({ setSuggestedPrompts }) => {
        await guard('assistant thread', async () => {
          const greeting = await engine.greeting();
          const prompts = greeting.prompts.slice(0, ASSISTANT_PROMPTS).map((p) => ({ title: p.slice(0, 75), message: p }));
          if (prompts.length) await setSuggestedPrompts({ prompts, title: `Ask ${greeting.personaName}` });
        });
      },
      userMessage: async ({ message, setStatus, setTitle }) => {
        await guard('assistant message', () =>
          onMessage(message as unknown as SlackMessage, 'message', {
            setStatus: async (status) => void (await setStatus(status)),
            setTitle: async (title) => void (await setTitle(title)),
          }),
        );
      },
    }),
  );

  app.error(async (err) => health.failed(err));

  return {
    platform: SLACK,
    app,
    directory: createSlackDirectory(app.client),
    /** HTTP mode: where Slack should send events (for tests; in production, behind a proxy) */
    httpUrl: () => (server ? `http://${settings.host}:${(server.address() as AddressInfo).port}/slack/events` : null),
    async start() {
      const auth = await app.client.auth.test();
      botUserId = auth.user_id ?? '';
      const started = settings.appToken ? await app.start() : await app.start({ port: settings.port, host: settings.host } satisfies ListenOptions);
      if (!settings.appToken) server = started as Server;
      health.connected = true;
      log.info(`slack: connected as ${auth.user ?? botUserId} (${settings.appToken ? 'Socket Mode' : `HTTP on ${settings.host}:${settings.port}`})`);
    },
    async stop() {
      health.connected = false;
      await app.stop();
      // the Socket Mode socket needs a moment to close, or the process hangs on it
      await new Promise((resolve) => setTimeout(resolve, 300));
    },
    status(): AdapterStatus {
      return health.status(settings.appToken ? 'Socket Mode' : 'HTTP');
    },
  };
}
