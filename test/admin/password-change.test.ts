import { afterEach, describe, expect, it } from 'vitest';
import { MAX_FAILURES } from '../../src/admin/lockout.js';
import { hashPassword, PASSWORD_HASH_KEY } from '../../src/admin/password.js';
import { getSetting, setSetting } from '../../src/core/settings.js';
import { postLogin, startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';

/** The admin password changed on the Settings page: the current one, then the new one twice. */

const NEW_PASSWORD = 'a new and longer passphrase';

let admin: TestAdmin | undefined;
afterEach(async () => {
  await admin?.close();
  admin = undefined;
});

/** An admin without THREADLOOM_ADMIN_PASSWORD; its generated password (only in the log) replaced by a known one. */
async function adminWithoutEnvPassword(): Promise<{ admin: TestAdmin; password: string }> {
  const started = await startTestAdmin({ password: null });
  const password = 'the first password';
  await setSetting(started.rt.database.db, PASSWORD_HASH_KEY, await hashPassword(password));
  return { admin: started, password };
}

/** The text beside a field: from its input to the end of its field box. */
function besideField(body: string, name: string): string {
  const at = body.indexOf(`name="${name}"`);
  expect(at, `no field ${name}`).toBeGreaterThan(-1);
  return body.slice(at, body.indexOf('</div>', at));
}

const change = (session: AdminSession, current: string, next: string, again = next) =>
  session.post('/settings/password', { currentPassword: current, newPassword: next, confirmPassword: again });

const storedHash = (a: TestAdmin) => getSetting(a.rt.database.db, PASSWORD_HASH_KEY);

describe('password change on the Settings page', () => {
  it('should store a new hash, sign in with the new password only, end the other sessions and audit it', async () => {
    const started = await adminWithoutEnvPassword();
    admin = started.admin;
    const mine = await admin.login({ password: started.password });
    const phone = await admin.login({ password: started.password, address: '10.0.0.7' });
    const before = await storedHash(admin);

    const response = await change(mine, started.password, NEW_PASSWORD);
    expect(response.statusCode).toBe(303);
    expect(await storedHash(admin)).not.toBe(before);
    expect(await storedHash(admin)).toMatch(/^scrypt\$/);
    expect(await storedHash(admin)).not.toContain(NEW_PASSWORD);

    // this session goes on and is told; the other one has ended
    const settings = await mine.get('/settings');
    expect(settings.statusCode).toBe(200);
    expect(settings.body).toContain('Password changed. 1 other session(s) signed out.');
    const ended = await phone.get('/settings');
    expect(ended.statusCode).toBe(303);
    expect(ended.headers.location).toBe('/login?next=%2Fsettings');

    expect((await postLogin(admin.app, started.password)).statusCode).toBe(401);
    expect((await postLogin(admin.app, NEW_PASSWORD)).statusCode).toBe(303);

    const audit = await admin.rt.database.db.selectFrom('audit_log').select(['action', 'detail']).where('action', 'like', 'password.%').execute();
    expect(audit).toEqual([{ action: 'password.change', detail: '1 other session(s) ended' }]);
  });

  it('should refuse a short or mismatched new password with a message beside the field, and keep the old one', async () => {
    const started = await adminWithoutEnvPassword();
    admin = started.admin;
    const session = await admin.login({ password: started.password });
    const before = await storedHash(admin);

    const short = await change(session, started.password, 'short7!');
    expect(short.statusCode).toBe(422);
    expect(besideField(short.body, 'newPassword')).toContain('at least 8 characters');
    expect(besideField(short.body, 'confirmPassword')).not.toContain('field-error');

    const mismatched = await change(session, started.password, NEW_PASSWORD, `${NEW_PASSWORD}.`);
    expect(mismatched.statusCode).toBe(422);
    expect(besideField(mismatched.body, 'confirmPassword')).toContain('does not match the new password');
    expect(besideField(mismatched.body, 'newPassword')).not.toContain('field-error');
    // what was typed is never sent back
    expect(mismatched.body).not.toContain(NEW_PASSWORD);

    expect(await storedHash(admin)).toBe(before);
    expect((await postLogin(admin.app, started.password)).statusCode).toBe(303);
  });

  it('should refuse a wrong current password beside its field and count it toward the login lockout', async () => {
    const started = await adminWithoutEnvPassword();
    admin = started.admin;
    const session = await admin.login({ password: started.password });
    const before = await storedHash(admin);

    const wrong = await change(session, 'not the password', NEW_PASSWORD);
    expect(wrong.statusCode).toBe(422);
    expect(besideField(wrong.body, 'currentPassword')).toContain(`wrong password: ${MAX_FAILURES - 1} more tries`);
    for (let i = 1; i < MAX_FAILURES - 1; i++) await change(session, 'not the password', NEW_PASSWORD);
    // the fifth wrong password, made at the sign-in form, locks the address for both
    expect((await postLogin(admin.app, 'still wrong')).statusCode).toBe(429);
    const locked = await change(session, started.password, NEW_PASSWORD);
    expect(locked.statusCode).toBe(429);
    expect(besideField(locked.body, 'currentPassword')).toContain('locked');
    expect(await storedHash(admin)).toBe(before);
    expect((await admin.rt.database.db.selectFrom('audit_log').select('action').where('action', '=', 'password.change.failed').execute()).length).toBe(MAX_FAILURES - 1);
  });

  it('should say the environment sets the password, disable the form, and refuse a change', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    const page = (await session.get('/settings')).body;
    expect(page).toContain('id="password-from-env"');
    expect(page).toMatch(/<fieldset disabled>\s*<legend>Change the password<\/legend>/);
    const before = await storedHash(admin);
    const refused = await change(session, 'correct horse battery staple', NEW_PASSWORD);
    expect(refused.statusCode).toBe(409);
    expect(besideField(refused.body, 'currentPassword')).toContain('THREADLOOM_ADMIN_PASSWORD sets the password');
    expect(await storedHash(admin)).toBe(before);
  });

  it('should refuse a change without the CSRF token', async () => {
    const started = await adminWithoutEnvPassword();
    admin = started.admin;
    const session = await admin.login({ password: started.password });
    const before = await storedHash(admin);
    const response = await session.post('/settings/password', { currentPassword: started.password, newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { csrf: false });
    expect(response.statusCode).toBe(403);
    expect(await storedHash(admin)).toBe(before);
  });
});
