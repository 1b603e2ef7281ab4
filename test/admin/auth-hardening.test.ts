import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, cookieFrom, formBody, loginForm, postLogin, startTestAdmin, type TestAdmin } from '../support/admin.js';
import { TEST_POSTGRES_URL } from '../support/postgres.js';

/** What an attacker on the LAN, or a reverse proxy in front, does to the login. */

let admin: TestAdmin | undefined;
afterEach(async () => {
  await admin?.close();
  admin = undefined;
});

async function failedLogins(a: TestAdmin): Promise<number> {
  const rows = await a.rt.deps.db.selectFrom('audit_log').select('action').where('action', '=', 'login.failed').execute();
  return rows.length;
}

describe('login lockout under a burst', () => {
  it('should check at most five passwords from a burst of 40 parallel guesses, the right one last included', async () => {
    admin = await startTestAdmin();
    const app = admin.app;
    const { token, cookie } = await loginForm(app, '192.168.1.66');
    const guesses = Array.from({ length: 40 }, (_, i) => (i === 39 ? ADMIN_PASSWORD : `guess number ${i}`));
    const responses = await Promise.all(
      guesses.map((password) =>
        app.inject({
          method: 'POST',
          url: '/login',
          remoteAddress: '192.168.1.66',
          headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
          payload: formBody({ _csrf: token, password }),
        }),
      ),
    );
    const statuses = responses.map((r) => r.statusCode);
    // five checked (each a 401, the fifth locking: 429), everything else refused unchecked
    expect(statuses.filter((s) => s === 401 || s === 303).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(35);
    expect(responses[39]!.statusCode).toBe(429);
    expect(cookieFrom(responses[39]!, 'tl_session')).toBeUndefined();
    expect(await failedLogins(admin)).toBeLessThanOrEqual(5);
    // and the address is locked now, for the right password too
    expect((await postLogin(app, ADMIN_PASSWORD, '192.168.1.66')).statusCode).toBe(429);
  });

  it('should check at most five Basic auth passwords from a parallel burst on /metrics', async () => {
    admin = await startTestAdmin();
    const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`prometheus:${password}`).toString('base64')}` });
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => admin!.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.1.1.1', headers: basic(i === 29 ? ADMIN_PASSWORD : `guess ${i}`) })),
    );
    expect(responses[29]!.statusCode).not.toBe(200);
    expect((await admin.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.1.1.1', headers: basic(ADMIN_PASSWORD) })).statusCode).not.toBe(200);
  });

  it('should say in the log which address was locked out', async () => {
    admin = await startTestAdmin();
    for (let i = 0; i < 5; i++) await postLogin(admin.app, 'wrong password', '192.168.7.7');
    expect(admin.rt.logs.some((line) => line.level === 'warn' && line.message.includes('192.168.7.7 locked out for 15 minutes'))).toBe(true);
  });
});

describe('the next page after login', () => {
  it('should refuse a next path with a tab, CR or LF, which a browser would turn into another host or a split header', async () => {
    admin = await startTestAdmin();
    for (const next of ['/\t/evil.example', '/\n/evil.example', '/x\r\nSet-Cookie: a=b', '/%09/evil.example'.replace('%09', '\t')]) {
      const response = await postLogin(admin.app, ADMIN_PASSWORD, '127.0.0.1', next);
      expect(response.statusCode, JSON.stringify(next)).toBe(303);
      expect(response.headers.location, JSON.stringify(next)).toBe('/');
    }
    expect((await postLogin(admin.app, ADMIN_PASSWORD, '127.0.0.1', '/experiences?tab=1')).headers.location).toBe('/experiences?tab=1');
  });
});

describe('behind a reverse proxy', () => {
  const PROXY = '127.0.0.1';
  const viaProxy = (client: string, password: string, proto = 'http') =>
    loginForm(admin!.app, PROXY).then(({ token, cookie }) =>
      admin!.app.inject({
        method: 'POST',
        url: '/login',
        remoteAddress: PROXY,
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': client, 'x-forwarded-proto': proto },
        payload: formBody({ _csrf: token, password }),
      }),
    );

  it('should ignore forwarded headers unless admin.trustProxy is set, so a client cannot pick its address', async () => {
    admin = await startTestAdmin();
    for (let i = 0; i < 5; i++) await viaProxy(`203.0.113.${i}`, 'wrong password');
    // five wrong passwords with five forged addresses still lock the one real address
    expect((await viaProxy('203.0.113.99', ADMIN_PASSWORD)).statusCode).toBe(429);
  });

  it('with admin.trustProxy, should lock out the client, not the proxy, and mark cookies Secure over https', async () => {
    admin = await startTestAdmin({ config: (c) => ({ ...c, admin: { ...c.admin, trustProxy: '127.0.0.1' } }) });
    for (let i = 0; i < 5; i++) await viaProxy('203.0.113.5', 'wrong password');
    expect((await viaProxy('203.0.113.5', ADMIN_PASSWORD)).statusCode).toBe(429);
    // someone else behind the same proxy still signs in
    const other = await viaProxy('203.0.113.6', ADMIN_PASSWORD, 'https');
    expect(other.statusCode).toBe(303);
    const setCookie = [other.headers['set-cookie']].flat().join('\n');
    expect(setCookie).toMatch(/tl_session=[^;]+;.*Secure/);
    // the audit log has the client's address
    const row = await admin.rt.deps.db.selectFrom('audit_log').select(['action', 'actor']).where('action', '=', 'login').executeTakeFirst();
    expect(JSON.stringify(row)).toContain('203.0.113.6');
  });
});

describe.skipIf(!TEST_POSTGRES_URL)('login lockout across instances on PostgreSQL', () => {
  let second: TestAdmin | undefined;
  afterEach(async () => {
    await second?.close();
    second = undefined;
  });

  it('should lock an address after five wrong passwords in all, whichever instances checked them, and free it on all after a success', async () => {
    admin = await startTestAdmin();
    // another instance on the same database, as behind a load balancer
    second = await startTestAdmin({ dir: admin.rt.dir });
    const instances = [admin.app, second.app];
    for (let i = 0; i < 4; i++) expect((await postLogin(instances[i % 2]!, `wrong ${i}`, '192.168.9.9')).statusCode).toBe(401);
    // one try left, on whichever instance
    expect((await postLogin(second.app, 'wrong again', '192.168.9.9')).statusCode).toBe(429);
    for (const app of instances) expect((await postLogin(app, ADMIN_PASSWORD, '192.168.9.9')).statusCode).toBe(429);

    // another address: a success on one instance clears what the other had counted
    for (let i = 0; i < 3; i++) expect((await postLogin(admin.app, `wrong ${i}`, '192.168.9.10')).statusCode).toBe(401);
    expect((await postLogin(second.app, ADMIN_PASSWORD, '192.168.9.10')).statusCode).toBe(303);
    for (let i = 0; i < 4; i++) expect((await postLogin(admin.app, `wrong ${i}`, '192.168.9.10')).statusCode).toBe(401);
  });
});
