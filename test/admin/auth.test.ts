import { afterEach, describe, expect, it } from 'vitest';
import { PASSWORD_HASH_KEY } from '../../src/admin/password.js';
import { getSetting } from '../../src/core/settings.js';
import { ADMIN_PASSWORD, cookieFrom, formBody, loginForm, postLogin, startTestAdmin, type TestAdmin } from '../support/admin.js';

let admin: TestAdmin | undefined;
afterEach(async () => {
  await admin?.close();
  admin = undefined;
});

const PROTECTED_PAGES = ['/', '/experiences', '/experiences/new', '/experiences/general', '/conversations', '/settings', '/audit', '/metrics', '/dashboard/providers', '/experiences/export.json', '/no-such-page'];

describe('admin auth', () => {
  it('should send every page but /login and /healthz to the login page when not signed in', async () => {
    admin = await startTestAdmin();
    for (const url of PROTECTED_PAGES) {
      const response = await admin.anonymous(url);
      expect(response.statusCode, url).toBe(303);
      expect(response.headers.location, url).toBe(`/login?next=${encodeURIComponent(url)}`);
    }
    expect((await admin.anonymous('/login')).statusCode).toBe(200);
    expect((await admin.anonymous('/healthz')).statusCode).toBe(200);
    expect((await admin.anonymous('/static/app.css')).statusCode).toBe(200);
    expect((await admin.anonymous('/static/htmx.min.js')).statusCode).toBe(200);
  });

  it('should tell htmx to load the login page instead of swapping it into a fragment', async () => {
    admin = await startTestAdmin();
    const response = await admin.anonymous('/conversations/results', { 'hx-request': 'true' });
    expect(response.statusCode).toBe(401);
    expect(response.headers['hx-redirect']).toBe('/login?next=%2Fconversations%2Fresults');
  });

  it('should refuse a POST without a session and change nothing', async () => {
    admin = await startTestAdmin();
    const response = await admin.app.inject({ method: 'POST', url: '/experiences/general/archive', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' });
    expect(response.statusCode).toBe(401);
    expect((await admin.rt.deps.experiences.require('general')).archivedAt).toBeNull();
  });

  it('should sign in with the password and set an HttpOnly SameSite session cookie', async () => {
    admin = await startTestAdmin();
    const response = await postLogin(admin.app, ADMIN_PASSWORD, '127.0.0.1', '/experiences');
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/experiences');
    const raw = [response.headers['set-cookie']].flat().find((c) => String(c).startsWith('tl_session='))!;
    expect(raw).toMatch(/HttpOnly/);
    expect(raw).toMatch(/SameSite=Strict/);
    expect(raw).toMatch(/Path=\//);
    const page = await admin.app.inject({ method: 'GET', url: '/experiences', headers: { cookie: cookieFrom(response, 'tl_session')! } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>Experiences</h1>');
  });

  it('should only follow a local path after login', async () => {
    admin = await startTestAdmin();
    for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example']) {
      const response = await postLogin(admin.app, ADMIN_PASSWORD, '127.0.0.1', next);
      expect(response.headers.location, next).toBe('/');
    }
  });

  it('should keep the login token when the browser asks for another page first (a favicon, a second tab)', async () => {
    admin = await startTestAdmin();
    const first = await loginForm(admin.app);
    const second = await admin.app.inject({ method: 'GET', url: '/login', headers: { cookie: first.cookie } });
    expect(second.body).toContain(`name="_csrf" value="${first.token}"`);
    expect((await admin.anonymous('/favicon.ico')).statusCode).toBe(204);
  });

  it('should refuse a login form without its token', async () => {
    admin = await startTestAdmin();
    const { cookie } = await loginForm(admin.app);
    const response = await admin.app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: formBody({ _csrf: 'forged', password: ADMIN_PASSWORD }),
    });
    expect(response.statusCode).toBe(403);
    expect(cookieFrom(response, 'tl_session')).toBeUndefined();
  });

  it('should end the session on logout', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    expect((await session.post('/logout')).headers.location).toBe('/login');
    expect((await session.get('/')).statusCode).toBe(303);
  });

  it('should end a session left idle for longer than 8 hours', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    admin.clock.advance(7 * 3600_000);
    expect((await session.get('/')).statusCode).toBe(200);
    admin.clock.advance(8 * 3600_000 + 1000);
    expect((await session.get('/')).statusCode).toBe(303);
  });
});

describe('CSRF', () => {
  it('should refuse a state-changing POST without a token, or with a wrong one, and change nothing', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    for (const csrf of [false, 'wrong-token', ''] as const) {
      const response = await session.post('/experiences/general/archive', {}, { csrf });
      expect(response.statusCode, String(csrf)).toBe(403);
      expect(response.body).toContain('CSRF');
    }
    const settings = await session.post('/settings', { userTurnsPerMinute: '99' }, { csrf: false });
    expect(settings.statusCode).toBe(403);
    expect(admin.ctx.config.limits.userTurnsPerMinute).toBe(12);
    expect((await admin.rt.deps.experiences.require('general')).archivedAt).toBeNull();
  });

  it('should accept the token from the form field or the X-CSRF-Token header htmx sends', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    expect((await session.post('/experiences/general/archive')).statusCode).toBe(303);
    expect((await admin.rt.deps.experiences.require('general')).archivedAt).not.toBeNull();
    const viaHeader = await session.post('/experiences/general/unarchive', {}, { header: true, htmx: true });
    expect(viaHeader.statusCode).toBe(200);
    expect((await admin.rt.deps.experiences.require('general')).archivedAt).toBeNull();
  });

  it("should refuse another session's token", async () => {
    admin = await startTestAdmin();
    const first = await admin.login();
    const second = await admin.login();
    expect((await first.post('/experiences/general/archive', {}, { csrf: second.csrf })).statusCode).toBe(403);
  });
});

describe('login lockout', () => {
  it('should lock an address out after five wrong passwords, even for the right one, and let it in again after 15 minutes', async () => {
    admin = await startTestAdmin();
    const address = '192.168.1.50';
    for (let i = 1; i <= 4; i++) {
      const response = await postLogin(admin.app, 'wrong password', address);
      expect(response.statusCode).toBe(401);
      expect(response.body).toContain(`${5 - i} more`);
    }
    const fifth = await postLogin(admin.app, 'wrong password', address);
    expect(fifth.statusCode).toBe(429);
    expect(fifth.body).toContain('locked for 15 minutes');

    const right = await postLogin(admin.app, ADMIN_PASSWORD, address);
    expect(right.statusCode).toBe(429);
    expect(cookieFrom(right, 'tl_session')).toBeUndefined();
    expect(right.headers['retry-after']).toBe(String(15 * 60));

    // another address is not affected
    expect((await postLogin(admin.app, ADMIN_PASSWORD, '192.168.1.51')).statusCode).toBe(303);

    admin.clock.advance(15 * 60_000 + 1000);
    expect((await postLogin(admin.app, ADMIN_PASSWORD, address)).statusCode).toBe(303);
    const failures = await admin.rt.deps.db.selectFrom('audit_log').select('action').where('action', '=', 'login.failed').execute();
    expect(failures).toHaveLength(5);
  });

  it('should reset the count after a successful login', async () => {
    admin = await startTestAdmin();
    for (let i = 0; i < 4; i++) await postLogin(admin.app, 'nope', '10.0.0.9');
    expect((await postLogin(admin.app, ADMIN_PASSWORD, '10.0.0.9')).statusCode).toBe(303);
    for (let i = 0; i < 4; i++) expect((await postLogin(admin.app, 'nope', '10.0.0.9')).statusCode).toBe(401);
  });

  it('should apply the lockout to Basic auth on /metrics too', async () => {
    admin = await startTestAdmin();
    const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`prometheus:${password}`).toString('base64')}` });
    const ok = await admin.app.inject({ method: 'GET', url: '/metrics', headers: basic(ADMIN_PASSWORD) });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('# TYPE threadloom_turns_total counter');
    for (let i = 0; i < 5; i++) await admin.app.inject({ method: 'GET', url: '/metrics', headers: basic('guess') });
    expect((await admin.app.inject({ method: 'GET', url: '/metrics', headers: basic(ADMIN_PASSWORD) })).statusCode).toBe(303);
    // Basic auth opens /metrics only
    expect((await admin.app.inject({ method: 'GET', url: '/settings', headers: basic(ADMIN_PASSWORD) })).statusCode).toBe(303);
  });
});

describe('admin password', () => {
  it('should generate a password on first start, print it once, and store only its hash', async () => {
    admin = await startTestAdmin({ password: null });
    const lines = admin.rt.logs.filter((l) => l.message.includes('admin password generated'));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.message).toContain('THREADLOOM_ADMIN_PASSWORD');
    const generated = /generated \(shown only this once\): (\S+)/.exec(lines[0]!.message)![1]!;
    const stored = await getSetting(admin.rt.deps.db, PASSWORD_HASH_KEY);
    expect(stored).toMatch(/^scrypt\$/);
    expect(stored).not.toContain(generated);
    expect((await postLogin(admin.app, generated)).statusCode).toBe(303);

    // a second app over the same database does not generate (or print) another
    const { buildAdminApp } = await import('../../src/admin/app.js');
    const again = buildAdminApp(admin.ctx);
    await again.ready();
    await again.close();
    expect(admin.rt.logs.filter((l) => l.message.includes('admin password generated'))).toHaveLength(1);
  });

  it('should let THREADLOOM_ADMIN_PASSWORD win over a stored hash, re-hashing when it changed', async () => {
    admin = await startTestAdmin({ password: 'first password here' });
    const before = await getSetting(admin.rt.deps.db, PASSWORD_HASH_KEY);
    const { buildAdminApp } = await import('../../src/admin/app.js');
    const changed = buildAdminApp({ ...admin.ctx, password: 'second password here' });
    await changed.ready();
    expect(await getSetting(admin.rt.deps.db, PASSWORD_HASH_KEY)).not.toBe(before);
    expect((await postLogin(changed, 'first password here')).statusCode).toBe(401);
    expect((await postLogin(changed, 'second password here')).statusCode).toBe(303);
    await changed.close();
  });
});

describe('security headers and health', () => {
  it('should send a Content-Security-Policy without unsafe-inline on every page, the login page included', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    for (const response of [await admin.anonymous('/login'), await session.get('/'), await session.get('/experiences')]) {
      const csp = String(response.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('should answer /healthz without auth and without secrets', async () => {
    admin = await startTestAdmin({ password: 'a secret admin password' });
    admin.ctx.platforms.set('discord', 'error', 'gateway closed: 4004 authentication failed');
    const response = await admin.anonymous('/healthz');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toEqual({ status: 'ok', database: 'ok', platforms: { discord: 'error', slack: 'off', matrix: 'off' } });
    for (const secret of ['a secret admin password', 'sk-test-not-real', 'ak-test-not-real', admin.rt.dir, '4004']) expect(response.body).not.toContain(secret);
  });
});

describe('rendering', () => {
  it('should render a whole page normally and only the page for an htmx request', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    const whole = await session.get('/experiences');
    expect(whole.body).toMatch(/^<!doctype html>/);
    expect(whole.body).toContain('<nav aria-label="Main">');
    const partial = await session.get('/experiences', { 'hx-request': 'true' });
    expect(partial.statusCode).toBe(200);
    expect(partial.body).not.toContain('<html');
    expect(partial.body).not.toContain('<nav');
    expect(partial.body).toContain('<h1>Experiences</h1>');
    expect(partial.headers.vary).toContain('HX-Request');
  });

  it('should link every page in the nav, the current one marked', async () => {
    admin = await startTestAdmin();
    const session = await admin.login();
    const page = (await session.get('/settings')).body;
    for (const href of ['/', '/experiences', '/conversations', '/models', '/usage', '/backups', '/settings', '/audit']) expect(page).toContain(`href="${href}"`);
    expect(page).toContain('<a href="/settings" aria-current="page">Settings</a>');
  });
});
