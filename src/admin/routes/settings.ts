import type { FastifyInstance, FastifyReply } from 'fastify';
import { accessFromConfig, accessSettingsSchema, loadAccess, saveAccess, type AccessSettings } from '../../core/platforms.js';
import { audit } from '../audit.js';
import type { AdminContext } from '../context.js';
import type { FieldErrors } from '../experience-form.js';
import { MAX_FAILURES, LOCKOUT_MS, minutes } from '../lockout.js';
import { checkAdminPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, passwordFromEnvironment, setAdminPassword } from '../password.js';

/**
 * Settings: who may talk to the bot on each platform (allowlists), who is an admin there, the
 * global admins and the per-user turn limit. Saved to the database; they apply at once (the
 * limit after a restart) and win over the config file from then on. Also the admin password:
 * changed here (the current one, then the new one twice) unless THREADLOOM_ADMIN_PASSWORD sets it;
 * a change ends every other session, and a wrong current password counts toward the login lockout.
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

/** The password form's three fields; never rendered back into the page. */
const PASSWORD_FIELDS = ['currentPassword', 'newPassword', 'confirmPassword'] as const;

/** What is wrong with the new password, field by field (the current one is checked after). */
function newPasswordErrors(form: Record<string, string>): FieldErrors {
  const errors: FieldErrors = {};
  if (!form.currentPassword) errors.currentPassword = 'enter the password you signed in with';
  if (form.newPassword!.length < MIN_PASSWORD_LENGTH) errors.newPassword = `at least ${MIN_PASSWORD_LENGTH} characters`;
  else if (form.newPassword!.length > MAX_PASSWORD_LENGTH) errors.newPassword = `at most ${MAX_PASSWORD_LENGTH} characters`;
  else if (form.newPassword === form.currentPassword) errors.newPassword = 'the same as the current password';
  if (!errors.newPassword && form.confirmPassword !== form.newPassword) errors.confirmPassword = 'does not match the new password';
  return errors;
}

export function registerSettingsRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const db = ctx.runtime.database.db;
  const { sessions, limiter } = app.adminAuth;

  async function page(reply: FastifyReply, values: FormValues, errors: FieldErrors, passwordErrors: FieldErrors = {}) {
    if (Object.keys(errors).length || Object.keys(passwordErrors).length) reply.code(reply.statusCode === 200 ? 422 : reply.statusCode);
    const stored = (await loadAccess(db)) !== null;
    const passwordFromEnv = Boolean(passwordFromEnvironment(ctx));
    return reply.page('settings', { title: 'Settings', values, errors, fields: LIST_FIELDS, platforms: PLATFORMS, stored, passwordFromEnv, passwordErrors, minPasswordLength: MIN_PASSWORD_LENGTH });
  }
  const currentValues = () => toValues(accessFromConfig(ctx.config));

  app.get('/settings', async (_request, reply) => page(reply, currentValues(), {}));

  app.post('/settings', async (request, reply) => {
    const values = readValues(request.body);
    const { access, errors } = parseValues(values);
    if (!access) return page(reply, values, errors);
    const before = accessFromConfig(ctx.config);
    await saveAccess(db, ctx.config, access);
    await ctx.runtime.changes.saved('access');
    const changed = (Object.keys(access) as Array<keyof AccessSettings>).filter((k) => JSON.stringify(access[k]) !== JSON.stringify(before[k]));
    await audit(ctx, request, 'settings.update', changed.length ? `changed: ${changed.join(', ')}` : 'no changes');
    const limitNote = access.userTurnsPerMinute !== before.userTurnsPerMinute ? ' The new turn limit applies after a restart.' : '';
    request.session!.flash = `Settings saved.${limitNote}`;
    return reply.redirect('/settings', 303);
  });

  app.post('/settings/password', async (request, reply) => {
    if (passwordFromEnvironment(ctx)) {
      reply.code(409);
      return page(reply, currentValues(), {}, { currentPassword: 'THREADLOOM_ADMIN_PASSWORD sets the password: change it there and restart' });
    }
    const raw = (request.body ?? {}) as Record<string, unknown>;
    const form = Object.fromEntries(PASSWORD_FIELDS.map((name) => [name, typeof raw[name] === 'string' ? (raw[name] as string) : '']));
    const errors = newPasswordErrors(form);
    if (Object.keys(errors).length) return page(reply, currentValues(), {}, errors);

    // the current password is a guess like any sign-in: it counts toward the same lockout
    await limiter.refresh(request.ip);
    const start = limiter.begin(request.ip);
    if (!start.ok) {
      reply.code(429).header('retry-after', String(Math.ceil(start.lockedForMs / 1000)));
      return page(reply, currentValues(), {}, { currentPassword: `too many wrong passwords from this address: locked for ${minutes(start.lockedForMs)} more minute(s)` });
    }
    if (!(await checkAdminPassword(ctx, form.currentPassword!))) {
      const lockedNow = start.attempt.fail();
      await audit(ctx, request, 'password.change.failed', lockedNow ? `wrong current password; locked for ${minutes(LOCKOUT_MS)} minutes` : 'wrong current password');
      if (lockedNow) {
        ctx.log.warn(`admin: ${request.ip} locked out for ${minutes(lockedNow)} minutes after ${MAX_FAILURES} wrong passwords (password change)`);
        reply.code(429).header('retry-after', String(Math.ceil(lockedNow / 1000)));
        return page(reply, currentValues(), {}, { currentPassword: `wrong password; this address is now locked for ${minutes(lockedNow)} minutes` });
      }
      const left = limiter.remaining(request.ip);
      return page(reply, currentValues(), {}, { currentPassword: `wrong password: ${left} more ${left === 1 ? 'try' : 'tries'} before a ${minutes(LOCKOUT_MS)}-minute lock` });
    }
    start.attempt.succeed();
    await setAdminPassword(ctx, form.newPassword!);
    const ended = await sessions.destroyAllExcept(request.session!.id);
    await audit(ctx, request, 'password.change', `${ended} other session(s) ended`);
    request.session!.flash = `Password changed. ${ended} other session(s) signed out.`;
    return reply.redirect('/settings', 303);
  });
}
