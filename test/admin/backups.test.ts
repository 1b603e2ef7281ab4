import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSseEvents } from '../../src/admin/sse.js';
import { listAudit } from '../../src/core/audit.js';
import type { BackupService } from '../../src/core/backups/service.js';
import { attachBackups, startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';
import { BACKUPS_COPY_THE_SQLITE_FILE, sqliteOnly } from '../support/postgres.js';

let admin: TestAdmin;
let session: AdminSession;
let service: BackupService;

beforeAll(async () => {
  admin = await startTestAdmin();
  service = attachBackups(admin);
  session = await admin.login();
});

afterAll(async () => {
  await admin.close();
});

const db = () => admin.rt.database.db;

async function experienceNames(): Promise<string[]> {
  return (await db().selectFrom('experiences').select('name').orderBy('name').execute()).map((e) => e.name);
}

/** The last progress partial of a stream, and how the stream ended. */
function outcome(body: string): { html: string; done: string | undefined } {
  const events = readSseEvents(body);
  return { html: events.filter((e) => e.event === 'message').at(-1)?.data ?? '', done: events.find((e) => e.event === 'done')?.data };
}

async function backupNow(): Promise<string> {
  const response = await session.post('/backups/now', {}, { htmx: true, header: true });
  expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
  const { html, done } = outcome(response.body);
  expect(done).toBe('ok');
  return /Backed up and verified: (threadloom-[\w-]+\.sqlite)/.exec(html)![1]!;
}

function multipart(parts: Array<{ name: string; value: string | Buffer; filename?: string }>): { body: Buffer; contentType: string } {
  const boundary = '----threadloomtest7MA4YWxkTrZu0gW';
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ''}`;
    const type = part.filename ? 'Content-Type: application/octet-stream\r\n' : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`), Buffer.from(part.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function upload(parts: Parameters<typeof multipart>[0], csrf: string | false = session.csrf) {
  const { body, contentType } = multipart(parts);
  return admin.app.inject({
    method: 'POST',
    url: '/backups/upload',
    headers: { cookie: session.cookie, 'content-type': contentType, 'hx-request': 'true', ...(csrf ? { 'x-csrf-token': csrf } : {}) },
    payload: body,
  });
}

sqliteOnly(BACKUPS_COPY_THE_SQLITE_FILE).describe('Backups page', () => {
  it('should take a backup with progress, verify it and list it with its size and result', async () => {
    const name = await backupNow();
    const response = await session.post('/backups/now', {}, { htmx: true, header: true });
    const percents = readSseEvents(response.body)
      .map((e) => /data-percent="(\d+)"/.exec(e.data)?.[1])
      .filter((p): p is string => p !== undefined)
      .map(Number);
    expect(percents.at(-1)).toBe(100);
    const page = await session.get('/backups');
    expect(page.statusCode).toBe(200);
    const row = new RegExp(`<tr data-backup="${name.replace(/\./g, '\\.')}" data-status="ok">([\\s\\S]*?)</tr>`).exec(page.body)?.[1];
    expect(row).toBeDefined();
    expect(row).toMatch(/<td class="num">\d+(\.\d)? (KB|MB)<\/td>/);
    expect(row).toContain('<td>manual</td>');
    expect(page.body).toContain('Scheduled with cron <code>0 3 * * *</code>');
    expect((await listAudit(db(), { action: 'backup.create' })).map((e) => e.target)).toContain(name);
  });

  it('should download a backup byte for byte', async () => {
    const name = await backupNow();
    const response = await session.get(`/backups/${name}/download`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-disposition']).toBe(`attachment; filename="${name}"`);
    expect(response.rawPayload.equals(readFileSync(path.join(service.dir, name)))).toBe(true);
    expect((await session.get('/backups/..%2Fthreadloom.db/download')).statusCode).toBe(400);
    expect((await session.get('/backups/threadloom-20200101-000000-manual.sqlite/download')).statusCode).toBe(404);
  });

  it('should ask before restoring, then restore with progress, keeping a backup of what it replaced', async () => {
    const name = await backupNow();
    const before = await experienceNames();
    await admin.rt.deps.experiences.create({ name: 'Made after the backup', slug: 'after-backup', systemPrompt: 'x' });

    const question = await session.post(`/backups/${name}/restore`, {}, { htmx: true });
    expect(question.statusCode).toBe(200);
    expect(question.body).toContain(`name="confirm" value="${name}"`);
    expect(await experienceNames()).toContain('Made after the backup');

    const response = await session.post(`/backups/${name}/restore`, { confirm: name }, { htmx: true });
    const { html, done } = outcome(response.body);
    expect(done).toBe('ok');
    expect(html).toContain(`Restored ${name}.`);
    const preRestore = /The database as it was is in (threadloom-[\w-]+-pre-restore\.sqlite)/.exec(html)?.[1];
    expect(preRestore).toBeDefined();
    expect(await experienceNames()).toEqual(before);
    // the bots' connection keeps working on the restored data
    expect(await admin.rt.deps.experiences.list()).toHaveLength(before.length);
    expect((await session.get('/backups')).body).toContain(`data-backup="${preRestore}" data-status="ok"`);
    expect((await listAudit(db(), { action: 'backup.restore' })).map((e) => e.target)).toContain(name);
  });

  it('should restore an uploaded file, and refuse one that is not a Threadloom database', async () => {
    const name = await backupNow();
    const file = (await session.get(`/backups/${name}/download`)).rawPayload;
    const before = await experienceNames();
    await admin.rt.deps.experiences.create({ name: 'Made before the upload', slug: 'before-upload', systemPrompt: 'x' });

    const response = await upload([
      { name: 'confirm', value: 'yes' },
      { name: 'file', value: file, filename: 'my copy.sqlite' },
    ]);
    expect(response.statusCode).toBe(200);
    const { html, done } = outcome(response.body);
    expect(done).toBe('ok');
    expect(html).toContain('Restored the uploaded my copy.sqlite.');
    expect(await experienceNames()).toEqual(before);

    const junk = await upload([
      { name: 'confirm', value: 'yes' },
      { name: 'file', value: Buffer.from('this is not a database, just text\n'.repeat(200)), filename: 'notes.txt' },
    ]);
    expect(outcome(junk.body).done).toBe('failed');
    expect(outcome(junk.body).html).toContain('Nothing was changed.');
    expect(await experienceNames()).toEqual(before);
    // the staged uploads are gone either way
    expect(readFileSync(path.join(service.dir, name)).length).toBeGreaterThan(0);
    expect(readdirSync(service.dir).filter((f) => f.startsWith('.upload-'))).toEqual([]);
  });

  it('should refuse an upload without the confirmation box or without a file', async () => {
    const name = await backupNow();
    const file = readFileSync(path.join(service.dir, name));
    const unconfirmed = await upload([{ name: 'file', value: file, filename: 'a.sqlite' }]);
    expect(unconfirmed.statusCode).toBe(400);
    expect(unconfirmed.body).toContain('replace the current database');
    const empty = await upload([{ name: 'confirm', value: 'yes' }]);
    expect(empty.statusCode).toBe(400);
  });

  it('should refuse every state change without the CSRF token', async () => {
    const name = (await service.list())[0]!.name;
    const count = (await service.list()).length;
    expect((await session.post('/backups/now', {}, { csrf: false })).statusCode).toBe(403);
    expect((await session.post(`/backups/${name}/restore`, { confirm: name }, { csrf: false })).statusCode).toBe(403);
    const file = readFileSync(path.join(service.dir, name));
    expect((await upload([{ name: 'confirm', value: 'yes' }, { name: 'file', value: file, filename: 'a.sqlite' }], false)).statusCode).toBe(403);
    expect((await service.list()).length).toBe(count);
  });
});
