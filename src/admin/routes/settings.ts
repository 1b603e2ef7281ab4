import type { FastifyInstance, FastifyReply } from 'fastify';
import { accessFromConfig, accessSettingsSchema, loadAccess, saveAccess, type AccessSettings } from '../../core/platforms.js';
import { audit } from '../audit.js';
import type { AdminContext } from '../context.js';
import type { FieldErrors } from '../experience-form.js';

/**
 * Settings: who may talk to the bot on each platform (allowlists), who is an admin there, the
 * global admins and the per-user turn limit. Saved to the database; they apply at once (the
 * limit after a restart) and win over the config file from then on.
 */

/** Form field → where it lives in AccessSettings, its label and the help shown under it. Lists are one id per line. */
const LIST_FIELDS: ReadonlyArray<readonly [platform: 'discord' | 'slack' | 'matrix', key: string, label: string, help: string]> = [
  ['discord', 'guilds', 'Allowed servers (guild ids)', 'Server ids, e.g. 123456789012345678 (Developer Mode → Copy Server ID). Empty: any server.'],
  ['discord', 'channels', 'Allowed channels', 'Channel ids. Empty: any channel the bot can read.'],
  ['discord', 'roles', 'Allowed roles', 'Role ids; a member with one of them may talk to the bot. Empty: no role needed.'],
  ['discord', 'users', 'Allowed users', 'User ids. Empty: anyone who passes the lists above.'],
  ['discord', 'adminUsers', 'Admin users', 'User ids that may run the admin commands in chat.'],
  ['discord', 'adminRoles', 'Admin roles', 'Role ids whose members may run the admin commands in chat.'],
  ['slack', 'channels', 'Allowed channels', 'Channel ids, e.g. C0123456789. Empty: any channel the bot is in.'],
  ['slack', 'users', 'Allowed users', 'Member ids, e.g. U0123456789. Empty: everyone in the workspace.'],
  ['slack', 'adminUsers', 'Admin users', 'Member ids that may run the admin commands in chat.'],
  ['matrix', 'users', 'Allowed users', 'Full user ids, e.g. @ada:example.org. Empty: anyone who passes the other lists.'],
  ['matrix', 'servers', 'Allowed homeservers', 'Server names, e.g. example.org: everyone on them may talk to the bot. Empty: any homeserver.'],
  ['matrix', 'rooms', 'Allowed rooms', 'Room ids, e.g. !abc123:example.org. Empty: any room the bot has joined.'],
  ['matrix', 'adminUsers', 'Admin users', 'Full user ids that may run the admin commands in chat.'],
];
const PLATFORMS = ['discord', 'slack', 'matrix'] as const;

type FormValues = Record<string, string>;

function toValues(access: AccessSettings): FormValues {
  const values: FormValues = { admins: access.admins.join('\n'), userTurnsPerMinute: String(access.userTurnsPerMinute) };
  for (const [platform, key] of LIST_FIELDS) values[`${platform}.${key}`] = ((access[platform] as Record<string, unknown>)[key] as string[]).join('\n');
  for (const platform of PLATFORMS) {
    values[`${platform}.allowDMs`] = access[platform].allowDMs ? 'on' : '';
    values[`${platform}.answerEverywhere`] = access[platform].answerEverywhere ? 'on' : '';
  }
  return values;
}

function readValues(body: unknown): FormValues {
  const raw = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const names = ['admins', 'userTurnsPerMinute', ...LIST_FIELDS.map(([p, k]) => `${p}.${k}`), ...PLATFORMS.flatMap((p) => [`${p}.allowDMs`, `${p}.answerEverywhere`])];
  return Object.fromEntries(names.map((n) => [n, typeof raw[n] === 'string' ? (raw[n] as string) : '']));
}

function parseValues(values: FormValues): { access: AccessSettings | null; errors: FieldErrors } {
  const lines = (text: string): string[] => text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
  const limitText = values.userTurnsPerMinute!.trim();
  const candidate: Record<string, unknown> = {
    admins: lines(values.admins!),
    userTurnsPerMinute: /^\d+$/.test(limitText) ? Number(limitText) : limitText,
  };
  for (const platform of PLATFORMS) {
    const entry: Record<string, unknown> = { allowDMs: values[`${platform}.allowDMs`] !== '', answerEverywhere: values[`${platform}.answerEverywhere`] !== '' };
    for (const [p, key] of LIST_FIELDS) if (p === platform) entry[key] = lines(values[`${p}.${key}`]!);
    candidate[platform] = entry;
  }
  const parsed = accessSettingsSchema.safeParse(candidate);
  if (parsed.success) return { access: parsed.data, errors: {} };
  const errors: FieldErrors = {};
  for (const issue of parsed.error.issues) {
    const [first, second] = issue.path.map(String);
    const field = PLATFORMS.includes(first as (typeof PLATFORMS)[number]) ? `${first}.${second}` : first!;
    errors[field] ??= field === 'userTurnsPerMinute' && typeof candidate.userTurnsPerMinute === 'string' ? 'must be a whole number' : issue.message;
  }
  return { access: null, errors };
}

export function registerSettingsRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const db = ctx.runtime.database.db;

  async function page(reply: FastifyReply, values: FormValues, errors: FieldErrors) {
    if (Object.keys(errors).length) reply.code(422);
    const stored = (await loadAccess(db)) !== null;
    return reply.page('settings', { title: 'Settings', values, errors, fields: LIST_FIELDS, platforms: PLATFORMS, stored });
  }

  app.get('/settings', async (_request, reply) => page(reply, toValues(accessFromConfig(ctx.config)), {}));

  app.post('/settings', async (request, reply) => {
    const values = readValues(request.body);
    const { access, errors } = parseValues(values);
    if (!access) return page(reply, values, errors);
    const before = accessFromConfig(ctx.config);
    await saveAccess(db, ctx.config, access);
    const changed = (Object.keys(access) as Array<keyof AccessSettings>).filter((k) => JSON.stringify(access[k]) !== JSON.stringify(before[k]));
    await audit(ctx, request, 'settings.update', changed.length ? `changed: ${changed.join(', ')}` : 'no changes');
    const limitNote = access.userTurnsPerMinute !== before.userTurnsPerMinute ? ' The new turn limit applies after a restart.' : '';
    request.session!.flash = `Settings saved.${limitNote}`;
    return reply.redirect('/settings', 303);
  });
}
