/**
 * The account side of the client-server API: versions, login, whoami, capabilities, push rules,
 * filters, profiles, account data, presence, and the end-to-end key routes answered empty (fast
 * tests run without crypto; the real Synapse suite covers it).
 */
import { badJson, forbidden, MatrixApiError, notFound } from './errors.js';
import { ROOM_VERSION } from './create-room.js';
import { defaultPushRules } from './pushrules.js';
import { authed, json, open, str, type Answer, type AuthedContext, type Route } from './router.js';
import type { Json } from './types.js';

const SPEC_VERSIONS = ['r0.0.1', 'r0.1.0', 'r0.2.0', 'r0.3.0', 'r0.4.0', 'r0.5.0', 'r0.6.0', 'r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11', 'v1.12'];

/** what the SDK looks for (threads, thread notifications, private receipts, relation recursion, mentions) */
const UNSTABLE_FEATURES = {
  'org.matrix.msc3440.stable': true,
  'org.matrix.msc3771': true,
  'org.matrix.msc3773': true,
  'org.matrix.msc2285.stable': true,
  'org.matrix.msc3981': true,
  'org.matrix.msc3952_intentional_mentions': true,
  'org.matrix.msc3916.stable': true,
};

function ownUser(ctx: AuthedContext): string {
  const userId = ctx.params.userId!;
  if (userId !== ctx.device.userId) throw forbidden('Cannot access another user\'s data');
  return userId;
}

function profileOf(ctx: { hs: AuthedContext['hs']; params: Record<string, string> }): { displayname: string; avatar_url?: string } {
  const account = ctx.hs.accounts.account(ctx.params.userId!);
  if (!account) throw notFound('Profile was not found');
  return { displayname: account.displayName, ...(account.avatarUrl ? { avatar_url: account.avatarUrl } : {}) };
}

function login(ctx: { hs: AuthedContext['hs']; body: Json }): Answer {
  const body = ctx.body as { type?: string; identifier?: { type?: string; user?: string }; user?: string; password?: string; device_id?: string; initial_device_display_name?: string };
  if (body.type !== 'm.login.password') throw new MatrixApiError(400, 'M_UNKNOWN', 'Unknown login type');
  const user = body.identifier?.type === 'm.id.user' ? body.identifier.user : body.user;
  if (!user || typeof body.password !== 'string') throw badJson('Missing user or password');
  const session = ctx.hs.accounts.login(user, body.password, str(body.device_id), str(body.initial_device_display_name) ?? null);
  if (!session) throw forbidden('Invalid username or password');
  return json({ user_id: session.userId, access_token: session.accessToken, device_id: session.deviceId, home_server: ctx.hs.serverName });
}

export const accountRoutes: Route[] = [
  open('GET', 'client/versions', () => json({ versions: SPEC_VERSIONS, unstable_features: UNSTABLE_FEATURES })),
  open('GET', 'client/v3/login', () => json({ flows: [{ type: 'm.login.password' }] })),
  open('POST', 'client/v3/login', (ctx) => login(ctx)),
  authed('POST', 'client/v3/logout', (ctx) => {
    ctx.hs.accounts.logout(ctx.device.token);
    return json({});
  }),
  authed('GET', 'client/v3/account/whoami', (ctx) => json({ user_id: ctx.device.userId, device_id: ctx.device.deviceId, is_guest: false })),
  authed('GET', 'client/v3/capabilities', () =>
    json({
      capabilities: {
        'm.change_password': { enabled: true },
        'm.room_versions': { default: ROOM_VERSION, available: { '9': 'stable', '10': 'stable', '11': 'stable' } },
        'm.set_displayname': { enabled: true },
        'm.set_avatar_url': { enabled: true },
        'm.3pid_changes': { enabled: false },
      },
    }),
  ),
  authed('GET', 'client/v3/pushrules/', (ctx) => json(defaultPushRules(ctx.device.userId))),
  authed('POST', 'client/v3/user/:userId/filter', (ctx) => json({ filter_id: ctx.hs.accounts.addFilter(ownUser(ctx), ctx.body) })),
  authed('GET', 'client/v3/user/:userId/filter/:filterId', (ctx) => {
    const filter = ctx.hs.accounts.filter(ownUser(ctx), ctx.params.filterId!);
    if (!filter) throw notFound('No such filter');
    return json(filter);
  }),
  authed('GET', 'client/v3/profile/:userId', (ctx) => json(profileOf(ctx))),
  authed('GET', 'client/v3/profile/:userId/displayname', (ctx) => json({ displayname: profileOf(ctx).displayname })),
  authed('GET', 'client/v3/profile/:userId/avatar_url', (ctx) => {
    const profile = profileOf(ctx);
    if (!profile.avatar_url) throw notFound('Profile has no avatar_url');
    return json({ avatar_url: profile.avatar_url });
  }),
  authed('PUT', 'client/v3/profile/:userId/displayname', (ctx) => {
    const account = ctx.hs.accounts.account(ownUser(ctx))!;
    const name = str(ctx.body.displayname);
    if (name === undefined) throw badJson('displayname must be a string');
    account.displayName = name;
    // as Synapse: every joined room gets a new member event with the new name
    for (const room of ctx.hs.rooms.values()) if (room.membership(account.userId) === 'join') ctx.hs.setMembership(room.roomId, account.userId, account.userId, 'join');
    return json({});
  }),
  authed('GET', 'client/v3/user/:userId/account_data/:type', (ctx) => {
    const content = ctx.hs.accounts.getAccountData(ownUser(ctx), null, ctx.params.type!);
    if (!content) throw notFound('Account data not found');
    return json(content);
  }),
  authed('PUT', 'client/v3/user/:userId/account_data/:type', (ctx) => {
    ctx.hs.setAccountData(ownUser(ctx), null, ctx.params.type!, ctx.body);
    return json({});
  }),
  authed('GET', 'client/v3/user/:userId/rooms/:roomId/account_data/:type', (ctx) => {
    const content = ctx.hs.accounts.getAccountData(ownUser(ctx), ctx.params.roomId!, ctx.params.type!);
    if (!content) throw notFound('Room account data not found');
    return json(content);
  }),
  authed('PUT', 'client/v3/user/:userId/rooms/:roomId/account_data/:type', (ctx) => {
    ctx.hs.setAccountData(ownUser(ctx), ctx.params.roomId!, ctx.params.type!, ctx.body);
    return json({});
  }),
  authed('PUT', 'client/v3/presence/:userId/status', (ctx) => {
    ownUser(ctx);
    return json({});
  }),
  authed('GET', 'client/v3/presence/:userId/status', () => json({ presence: 'online', currently_active: true })),
  authed('POST', 'client/v3/keys/query', (ctx) => {
    const asked = Object.keys((ctx.body.device_keys ?? {}) as Json);
    return json({ device_keys: Object.fromEntries(asked.map((u) => [u, {}])), failures: {}, master_keys: {}, self_signing_keys: {}, user_signing_keys: {} });
  }),
  authed('POST', 'client/v3/keys/upload', () => json({ one_time_key_counts: {} })),
  authed('GET', 'client/v3/voip/turnServer', () => json({})),
];
