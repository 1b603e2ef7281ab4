import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestAdmin, type TestAdmin } from '../support/admin.js';
import { storedInDatabase } from '../support/db.js';

/** Admin sessions live in the database: a restart or an upgrade does not sign the admin out. */

const open: TestAdmin[] = [];
afterEach(async () => {
  for (const admin of open.splice(0)) await admin.close();
});

async function adminOn(dir: string): Promise<TestAdmin> {
  const admin = await startTestAdmin({ dir });
  open.push(admin);
  return admin;
}

describe('admin sessions across a restart', () => {
  it('should keep the admin signed in, with the same CSRF token, after Threadloom restarts on the same data dir', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-sessions-'));
    const before = await adminOn(dir);
    const session = await before.login();
    await before.close();
    open.splice(0);

    const after = await adminOn(dir);
    const page = await after.app.inject({ method: 'GET', url: '/settings', headers: { cookie: session.cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(session.csrf);
    // a form posted with the old page's token still goes through
    const logout = await after.app.inject({
      method: 'POST',
      url: '/logout',
      headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `_csrf=${encodeURIComponent(session.csrf)}`,
    });
    expect(logout.statusCode).toBe(303);
    // and logging out there ends it for good
    expect((await after.app.inject({ method: 'GET', url: '/settings', headers: { cookie: session.cookie } })).statusCode).toBe(303);
  });

  it('should keep only a hash of the cookie in the database file, so a backup opens no session', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-sessions-'));
    const admin = await adminOn(dir);
    const session = await admin.login();
    const cookieValue = session.cookie.split('=')[1]!;
    expect(await storedInDatabase(admin.rt.database, cookieValue)).toBe(false);
    const rows = await admin.rt.deps.db.selectFrom('admin_sessions').selectAll().execute();
    expect(rows).toHaveLength(1);
  });

  it('should keep a flash message set before a redirect for the next page, once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-sessions-'));
    const admin = await adminOn(dir);
    const session = await admin.login();
    const archived = await session.post('/experiences/translator/archive');
    expect(archived.statusCode).toBe(303);
    expect((await session.get('/experiences')).body).toContain('Archived “');
    expect((await session.get('/experiences')).body).not.toContain('Archived “');
  });
});
