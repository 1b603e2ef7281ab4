import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSseEvents } from '../../src/admin/sse.js';
import type { BackupService } from '../../src/core/backups/service.js';
import { attachBackups, startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';
import { BACKUPS_COPY_THE_SQLITE_FILE, sqliteOnly } from '../support/postgres.js';

/** the upload limit of this file's BackupService: small, so a test can exceed it */
const MAX_UPLOAD = 2 * 1024 * 1024;

let admin: TestAdmin;
let session: AdminSession;
let service: BackupService;

beforeAll(async () => {
  admin = await startTestAdmin();
  service = attachBackups(admin, { maxUploadBytes: MAX_UPLOAD });
  session = await admin.login();
});

afterAll(async () => {
  await admin.close();
});

function multipart(parts: Array<{ name: string; value: string | Buffer; filename?: string }>): { body: Buffer; contentType: string } {
  const boundary = '----threadloomrestore5d1e';
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.filename ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`), Buffer.from(part.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function upload(file: Buffer, filename: string) {
  const { body, contentType } = multipart([
    { name: 'confirm', value: 'yes' },
    { name: 'file', value: file, filename },
  ]);
  return admin.app.inject({
    method: 'POST',
    url: '/backups/upload',
    headers: { cookie: session.cookie, 'content-type': contentType, 'hx-request': 'true', 'x-csrf-token': session.csrf },
    payload: body,
  });
}

function outcome(body: string): { html: string; done: string | undefined } {
  const events = readSseEvents(body);
  return { html: events.filter((e) => e.event === 'message').at(-1)?.data ?? '', done: events.find((e) => e.event === 'done')?.data };
}

/** The admin web answers: the login page without a session, the dashboard and Backups with one. */
async function expectAdminWorks(): Promise<void> {
  expect((await admin.anonymous('/login')).statusCode).toBe(200);
  expect((await session.get('/')).statusCode).toBe(200);
  expect((await session.get('/backups')).statusCode).toBe(200);
  expect((await session.get('/experiences')).statusCode).toBe(200);
}

/** A file with every migration's name and a one-column messages table: it only looks migrated. */
function lookalike(): Buffer {
  const file = path.join(admin.rt.dir, 'lookalike.sqlite');
  const sqlite = new SQLite(file);
  sqlite.exec('create table kysely_migration (name varchar(255) not null primary key, timestamp varchar(255) not null)');
  for (const row of admin.rt.database.sqlite.prepare('select name, timestamp from kysely_migration').all() as Array<{ name: string; timestamp: string }>) {
    sqlite.prepare('insert into kysely_migration values (?, ?)').run(row.name, row.timestamp);
  }
  sqlite.exec('create table messages (id integer primary key)');
  sqlite.close();
  return readFileSync(file);
}

sqliteOnly(BACKUPS_COPY_THE_SQLITE_FILE).describe('Backups page, restoring an upload', () => {
  it('should refuse a file that only looks migrated, name the upload, change nothing and keep the admin web working', async () => {
    const before = admin.rt.database.sqlite.serialize();
    const backupsBefore = (await service.list()).length;

    const response = await upload(lookalike(), 'lookalike.sqlite');

    const { html, done } = outcome(response.body);
    expect(done).toBe('failed');
    expect(html).toContain('Cannot restore from the uploaded lookalike.sqlite: its schema is not what this version of Threadloom expects: it lacks table');
    expect(html).toContain('Nothing was changed.');
    expect(html).not.toContain('.upload-');
    expect(admin.rt.database.sqlite.serialize().equals(before)).toBe(true);
    expect((await service.list()).length).toBe(backupsBefore);
    expect(readdirSync(service.dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
    await expectAdminWorks();
  });

  it('should restore a real backup, name the pre-restore backup, and keep the admin web working', async () => {
    const backup = await service.backupNow('manual');
    admin.clock.advance(1000);
    await admin.rt.deps.experiences.create({ name: 'Made after the backup', slug: 'made-after', systemPrompt: 'x' });

    const response = await upload(readFileSync(path.join(service.dir, backup.name)), 'nightly.sqlite');

    const { html, done } = outcome(response.body);
    expect(done).toBe('ok');
    expect(html).toMatch(/Restored the uploaded nightly\.sqlite\. The database as it was is in threadloom-[\w-]+-pre-restore\.sqlite\./);
    expect((await admin.rt.deps.experiences.list()).map((e) => e.slug)).not.toContain('made-after');
    await expectAdminWorks();
  });

  it('should refuse a file over the size limit with a message that says so, keeping nothing of it', async () => {
    const before = admin.rt.database.sqlite.serialize();
    const response = await upload(Buffer.alloc(MAX_UPLOAD + 1024 * 1024, 7), 'huge.sqlite');
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('The file is larger than 2');
    expect(response.body).toContain('the most a restore accepts');
    expect(admin.rt.database.sqlite.serialize().equals(before)).toBe(true);
    expect(readdirSync(service.dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('should not serve, list or restore a symlink in the backups folder', async () => {
    const secret = path.join(admin.rt.dir, 'secret.txt');
    writeFileSync(secret, 'the admin web must not serve this');
    const link = 'threadloom-20200101-000000-manual.sqlite';
    mkdirSync(service.dir, { recursive: true });
    symlinkSync(secret, path.join(service.dir, link));

    const download = await session.get(`/backups/${link}/download`);
    expect(download.statusCode).toBe(404);
    expect(download.body).not.toContain('must not serve');
    expect((await session.get('/backups')).body).not.toContain(link);
    const restore = await session.post(`/backups/${link}/restore`, { confirm: link }, { htmx: true });
    expect(restore.statusCode).toBe(404);
  });
});
