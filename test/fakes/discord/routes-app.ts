/** REST routes of the application: interaction callbacks, webhooks (follow-ups, @original), commands, users, gateway. */
import { applyMessageBody, emit, emitMessage, INTENT, markEdited, validateMessageBody, type Core } from './core.js';
import { apiError, ok, type FakeHttp, type RouteContext, type RouteResult } from './http.js';
import { snowflake } from './ids.js';
import { memberPayload, messagePayload, userPayload } from './payloads.js';
import type { InteractionState, MessageState } from './state.js';
import type { FakeInteractionResponse, RecordedFile, RegisteredCommand } from './types.js';

const unknownInteraction = (): RouteResult => apiError(404, 10062, 'Unknown interaction');
const unknownWebhook = (): RouteResult => apiError(404, 10015, 'Unknown Webhook');
const badType = (): RouteResult =>
  apiError(400, 50035, 'Invalid Form Body', { type: { _errors: [{ code: 'INTERACTION_CALLBACK_TYPE_INVALID', message: 'Interaction callback type is invalid for this interaction.' }] } });

const COMMAND_NAME = /^[-_\p{Ll}\p{Lo}\p{N}]{1,32}$/u;

function toRegistered(core: Core, raw: any, guildId: string | null, previous: RegisteredCommand[]): RegisteredCommand | RouteResult {
  const type = raw?.type ?? 1;
  if (typeof raw?.name !== 'string' || (type === 1 && !COMMAND_NAME.test(raw.name))) {
    return apiError(400, 50035, 'Invalid Form Body', { name: { _errors: [{ code: 'APPLICATION_COMMAND_INVALID_NAME', message: 'Command name is invalid' }] } });
  }
  const description = raw.description ?? '';
  if (type === 1 && (description.length < 1 || description.length > 100)) {
    return apiError(400, 50035, 'Invalid Form Body', { description: { _errors: [{ code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 100 in length.' }] } });
  }
  const id = previous.find((c) => c.name === raw.name && c.type === type)?.id ?? snowflake();
  return { id, name: raw.name, description, type, options: raw.options ?? [], guildId, raw };
}

function commandPayload(core: Core, c: RegisteredCommand): Record<string, unknown> {
  return {
    name_localizations: null, description_localizations: null, default_member_permissions: null, dm_permission: true, nsfw: false,
    integration_types: [0], contexts: null, ...c.raw,
    id: c.id, application_id: core.state.applicationId, version: snowflake(), type: c.type, description: c.description, options: c.options,
    ...(c.guildId ? { guild_id: c.guildId } : {}),
  };
}

function record(
  core: Core, interaction: InteractionState, kind: FakeInteractionResponse['kind'], type: number | null, data: unknown, files: RecordedFile[], message?: MessageState,
): void {
  core.interactionResponses.push({
    interactionId: interaction.id, token: interaction.token, kind, type, data, files, messageId: message?.id ?? null, flags: message?.flags ?? null, at: Date.now(),
  });
}

export function appRoutes(http: FakeHttp, core: Core): void {
  const { state } = core;

  http.add('GET /gateway/bot', () =>
    ok({ url: core.gateway.url, shards: core.recommendedShards, session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 } }));
  http.add('GET /gateway', () => ok({ url: core.gateway.url }));
  http.add('GET /users/@me', () => ok(userPayload(state.bot)));
  http.add('GET /users/:userId', ({ params }) => {
    const user = state.users.get(params.userId!);
    return user ? ok(userPayload(user)) : apiError(404, 10013, 'Unknown User');
  });
  http.add('GET /guilds/:guildId/members/:userId', ({ params }) => {
    const guild = state.guilds.get(params.guildId!);
    if (!guild) return apiError(404, 10004, 'Unknown Guild');
    if (!guild.members.has(params.userId!)) return apiError(404, 10007, 'Unknown Member');
    return ok(memberPayload(state, guild, params.userId!));
  });
  http.add('GET /applications/@me', () =>
    ok({
      id: state.applicationId, name: state.bot.username, icon: null, description: '', bot_public: true, bot_require_code_grant: false,
      flags: 0, team: null, verify_key: '0'.repeat(64), owner: userPayload(state.ensureUser(state.defaultUserId)), bot: userPayload(state.bot),
    }));

  const listFor = (guildId: string | null) => (guildId ? (state.guildCommands.get(guildId) ?? []) : state.globalCommands);
  const commands = (ctx: RouteContext, replace: boolean): RouteResult => {
    if (ctx.params.appId !== state.applicationId) return apiError(404, 10002, 'Unknown Application');
    const guildId = ctx.params.guildId ?? null;
    if (guildId && !state.guilds.has(guildId)) return apiError(403, 50001, 'Missing Access');
    const previous = listFor(guildId);
    if (!replace) return ok(previous.map((c) => commandPayload(core, c)));
    const wanted: any[] = Array.isArray(ctx.body) ? ctx.body : [ctx.body];
    const next: RegisteredCommand[] = [];
    for (const raw of wanted) {
      const c = toRegistered(core, raw, guildId, previous);
      if ('status' in c) return c;
      next.push(c);
    }
    const merged = Array.isArray(ctx.body) ? next : [...previous.filter((c) => c.name !== next[0]!.name), next[0]!];
    if (guildId) state.guildCommands.set(guildId, merged);
    else state.globalCommands = merged;
    return Array.isArray(ctx.body) ? ok(next.map((c) => commandPayload(core, c))) : ok(commandPayload(core, next[0]!), 201);
  };
  for (const base of ['/applications/:appId/commands', '/applications/:appId/guilds/:guildId/commands']) {
    http.add(`GET ${base}`, (ctx) => commands(ctx, false));
    http.add(`PUT ${base}`, (ctx) => commands(ctx, true));
    http.add(`POST ${base}`, (ctx) => commands(ctx, true));
  }

  http.add('POST /interactions/:interactionId/:token/callback', ({ params, query, body, files }) => {
    const interaction = state.interactions.get(params.token!);
    if (!interaction || interaction.id !== params.interactionId) return unknownInteraction();
    if (Date.now() - interaction.createdAt > core.interactionTimeoutMs) return unknownInteraction();
    if (interaction.callbackType !== null) return apiError(400, 40060, 'Interaction has already been acknowledged.');
    const type = Number(body?.type);
    const data = body?.data ?? {};
    const isComponent = interaction.type === 3 || interaction.type === 5;
    if (interaction.type === 4 ? type !== 8 : type === 8 || ((type === 6 || type === 7) && !isComponent) || ![4, 5, 6, 7, 9].includes(type)) return badType();
    let message: MessageState | undefined;
    if (type === 4 || type === 5) {
      if (type === 4) {
        const error = validateMessageBody(data, files);
        if (error) return error;
      }
      message = state.createMessage({
        channelId: interaction.channelId, authorId: state.bot.id, via: 'interaction', interactionId: interaction.id,
        type: interaction.type === 2 ? 20 : 0, flags: type === 5 ? 128 : 0,
      });
      applyMessageBody(message, type === 5 ? { flags: (data.flags ?? 0) & 64 } : data, files, false);
      if (type === 5) message.flags |= 128;
      interaction.originalMessageId = message.id;
      emitMessage(core, 'MESSAGE_CREATE', message);
    } else if (type === 6 || type === 7) {
      message = state.requireMessage(interaction.messageId!);
      interaction.originalMessageId = message.id;
      if (type === 7) {
        applyMessageBody(message, data, files, true);
        markEdited(message);
        emitMessage(core, 'MESSAGE_UPDATE', message);
      }
    }
    interaction.callbackType = type;
    record(core, interaction, 'callback', type, body?.data, files, message);
    if (query.with_response !== 'true') return ok();
    return ok({
      interaction: {
        id: interaction.id, type: interaction.type, activity_instance_id: null,
        response_message_id: message?.id ?? null, response_message_loading: type === 5, response_message_ephemeral: Boolean(message && message.flags & 64),
      },
      resource: { type, ...(message ? { message: messagePayload(state, message) } : {}) },
    });
  });

  const webhookTarget = (params: Record<string, string>): InteractionState | RouteResult => {
    const interaction = state.interactions.get(params.token!);
    if (params.appId !== state.applicationId || !interaction) return unknownWebhook();
    return interaction;
  };
  const webhookMessage = (params: Record<string, string>): { interaction: InteractionState; message: MessageState } | RouteResult => {
    const interaction = webhookTarget(params);
    if ('status' in interaction) return interaction;
    const id = params.messageId === '@original' ? interaction.originalMessageId : params.messageId!;
    const message = id ? state.messages.get(id) : undefined;
    if (!message || message.deleted || (message.id !== interaction.originalMessageId && message.interactionId !== interaction.id)) {
      return apiError(404, 10008, 'Unknown Message');
    }
    return { interaction, message };
  };

  http.add('POST /webhooks/:appId/:token', ({ params, query, body, files }) => {
    const interaction = webhookTarget(params);
    if ('status' in interaction) return interaction;
    if (interaction.callbackType === null) return unknownWebhook();
    const error = validateMessageBody(body, files);
    if (error) return error;
    const message = state.createMessage({ channelId: interaction.channelId, authorId: state.bot.id, via: 'followup', interactionId: interaction.id });
    applyMessageBody(message, body, files, false);
    record(core, interaction, 'followup', null, body, files, message);
    emitMessage(core, 'MESSAGE_CREATE', message);
    return query.wait === 'true' ? ok(messagePayload(state, message)) : ok();
  });

  http.add('GET /webhooks/:appId/:token/messages/:messageId', ({ params }) => {
    const found = webhookMessage(params);
    return 'status' in found ? found : ok(messagePayload(state, found.message));
  });

  http.add('PATCH /webhooks/:appId/:token/messages/:messageId', ({ params, body, files, route }) => {
    const found = webhookMessage(params);
    if ('status' in found) return found;
    const { message } = found;
    const verdict = core.limiter.check(message.channelId, route);
    if (!verdict.ok) return { status: 429, body: verdict.body, headers: verdict.headers };
    const error = validateMessageBody(body, files, message);
    if (error) return error;
    applyMessageBody(message, body, files, true);
    markEdited(message);
    record(core, found.interaction, 'edit', null, body, files, message);
    emitMessage(core, 'MESSAGE_UPDATE', message);
    return { status: 200, body: messagePayload(state, message), headers: verdict.headers };
  });

  http.add('DELETE /webhooks/:appId/:token/messages/:messageId', ({ params }) => {
    const found = webhookMessage(params);
    if ('status' in found) return found;
    found.message.deleted = true;
    record(core, found.interaction, 'delete', null, undefined, [], found.message);
    const channel = state.requireChannel(found.message.channelId);
    emit(core, 'MESSAGE_DELETE', { id: found.message.id, channel_id: channel.id, ...(channel.guildId ? { guild_id: channel.guildId } : {}) },
      channel.guildId ? INTENT.GuildMessages : INTENT.DirectMessages);
    return ok();
  });
}
