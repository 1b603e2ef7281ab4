import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSseEvents } from '../../src/admin/sse.js';
import type { BackupService } from '../../src/core/backups/service.js';
import { attachBackups, startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';
import { PG_DUMP_WRAPPER, pgToolsPresent, withoutPassword } from '../support/pg-tools.js';
import { TEST_POSTGRES_URL } from '../support/postgres.js';

let admin: TestAdmin;
let session: AdminSession;
let url: string;

/** The backup service as serve.ts makes it on PostgreSQL, with the chroot's pg_dump 18 (or `pgDump`). */
function attach(pgDump = PG_DUMP_WRAPPER): BackupService {
  const config = admin.rt.deps.config;
  return attachBackups(admin, { config: { ...config.backups, pgDump }, databaseUrl: config.database.url, instance: admin.rt.instance });
}

/** The last progress partial of a stream, and how the stream ended. */
function outcome(body: string): { html: string; done: string | undefined } {
  const events = readSseEvents(body);
  return { html: events.filter((e) => e.event === 'message').at(-1)?.data ?? '', done: events.find((e) => e.event === 'done')?.data };
}

describe.skipIf(!TEST_POSTGRES_URL || !pgToolsPresent())('Backups page on PostgreSQL', () => {
  beforeAll(async () => {
    admin = await startTestAdmin();
    url = admin.rt.deps.config.database.url!;
    session = await admin.login();
  });

  afterAll(async () => {
    await admin?.close();
  });

  it('should back up with pg_dump, list the dump with its size, serve it, and say how to restore instead of offering SQLite restores', async () => {
    attach();
    const response = await session.post('/backups/now', {}, { htmx: true, header: true });
    const { html, done } = outcome(response.body);
    expect(readSseEvents(response.body)[0]?.data).toContain('Dumping the database with pg_dump');
    expect(done).toBe('ok');
    const name = /Backed up with pg_dump: (threadloom-\d{8}-\d{6}-manual\.pgdump) \(\d+(\.\d)? KB\)/.exec(html)?.[1];
    expect(name).toBeDefined();

    const page = await session.get('/backups');
    expect(page.statusCode).toBe(200);
    const row = new RegExp(`<tr data-backup="${name!.replace(/\./g, '\\.')}" data-status="ok">([\\s\\S]*?)</tr>`).exec(page.body)?.[1];
    expect(row).toMatch(/<td class="num">\d+(\.\d)? KB<\/td>/);
    expect(row).toMatch(/<time datetime="\d{4}-\d\d-\d\dT/);
    expect(row).toMatch(/pg_dump 18\.\d+ of PostgreSQL 18\.\d+/);
    expect(row).toContain(`/backups/${name}/download`);
    expect(row).not.toContain('Restore…');
    expect(page.body).toMatch(/pg_dump 18\.\d+ \(<code>[^<]*pg_dump\.sh<\/code>\) dumps this PostgreSQL 18\.\d+/);
    expect(page.body).toContain('A restore replaces the database every instance is using, so it is not a button here.');
    expect(page.body).toContain(`pg_restore --clean --if-exists --dbname=&#39;${withoutPassword(url).url}&#39;`);
    expect(page.body).not.toContain('action="/backups/upload"');
    expect(page.body).not.toContain('type="file"');
    expect(page.body).not.toContain(withoutPassword(url).password!);

    const download = await session.get(`/backups/${name}/download`);
    expect(download.statusCode).toBe(200);
    expect(download.headers['content-type']).toBe('application/octet-stream');
    expect(download.rawPayload.subarray(0, 5).toString()).toBe('PGDMP');
  });

  it('should refuse a restore or an upload with the pg_restore command', async () => {
    const backups = attach();
    const entry = await backups.backupNow('manual');
    const restore = await session.post(`/backups/${entry.name}/restore`, { confirm: entry.name });
    expect(restore.statusCode).toBe(400);
    expect(restore.body).toContain('On PostgreSQL a backup is restored with pg_restore: stop every Threadloom instance, then run pg_restore --clean --if-exists');
    const upload = await session.post('/backups/upload', {}, { header: true });
    expect(upload.statusCode).toBe(400);
    expect(upload.body).toContain('On PostgreSQL a backup is restored with pg_restore');
    expect((await backups.list()).map((b) => b.name)).toContain(entry.name);
  });

  it('should say on the page, and when asked to back up, that pg_dump is missing and what to install', async () => {
    attach('/nonexistent/pg_dump');
    const page = await session.get('/backups');
    expect(page.body).toContain(
      'Backups cannot run on this instance: pg_dump not found at /nonexistent/pg_dump (backups.pgDump / THREADLOOM_PG_DUMP): install postgresql-client-18, or point backups.pgDump / THREADLOOM_PG_DUMP at its pg_dump.',
    );
    expect(page.body).not.toContain('hx-post="/backups/now"');
    const response = await session.post('/backups/now', {}, { htmx: true, header: true });
    const { html, done } = outcome(response.body);
    expect(done).toBe('failed');
    expect(html).toContain('The backup cannot run: pg_dump not found at /nonexistent/pg_dump');
  });
});
