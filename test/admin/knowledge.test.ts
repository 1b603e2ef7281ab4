import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePdf } from '../core/knowledge/files.js';
import { startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';

/** The Knowledge page over HTTP: uploads of many files, text, URLs, the documents and the test box. */

let admin: TestAdmin;
let session: AdminSession;
let server: http.Server;
let base: string;

const NOTE = 'The office printer is on the second floor. To clear a paper jam, open drawer 2 and pull the green lever.';
const RUNBOOK = '# Backups\n\nThe NAS backs up nightly at 02:00 to the offsite bucket named quokka-archive.\n\n## Restore\n\nRestores go through the snapshot browser.';

function multipart(parts: Array<{ name: string; value: string | Uint8Array; filename?: string; type?: string }>): { body: Buffer; contentType: string } {
  const boundary = '----threadloomknowledge7c2a';
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ''}`;
    const type = part.filename !== undefined ? `Content-Type: ${part.type ?? 'application/octet-stream'}\r\n` : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`), Buffer.from(part.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Posts files as the upload form does: the CSRF token as a field, each file as `files`. */
async function upload(slug: string, files: Array<{ filename: string; value: string | Uint8Array; type?: string }>, csrf: string | false = session.csrf) {
  const { body, contentType } = multipart([...(csrf === false ? [] : [{ name: '_csrf', value: csrf }]), ...files.map((f) => ({ name: 'files', ...f }))]);
  return admin.app.inject({ method: 'POST', url: `/knowledge/${slug}/upload`, headers: { cookie: session.cookie, 'content-type': contentType }, payload: body });
}

const escaped = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

async function documents(experienceSlug = 'general') {
  const experience = await admin.rt.deps.experiences.require(experienceSlug);
  return admin.rt.knowledge.list(experience.id);
}

async function chunkRows(documentId: number): Promise<number> {
  const row = await admin.rt.database.db.selectFrom('knowledge_chunks').select((eb) => eb.fn.countAll<number>().as('n')).where('document_id', '=', documentId).executeTakeFirstOrThrow();
  return Number(row.n);
}

beforeAll(async () => {
  admin = await startTestAdmin();
  session = await admin.login();
  await admin.rt.deps.experiences.create({ name: 'Other team', slug: 'other-team', systemPrompt: 'x' });
  server = http.createServer((req, res) => {
    if (req.url === '/guide.txt') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('The lab guide: the kettle descaler is kept under the sink, behind the blue box.');
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await admin?.close();
});

describe('Knowledge page', () => {
  it('should add two files from one upload and list both as indexed with their chunks', async () => {
    const response = await upload('general', [
      { filename: 'printer.txt', value: NOTE, type: 'text/plain' },
      { filename: 'runbook.md', value: RUNBOOK, type: 'text/markdown' },
    ]);
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('Uploaded 2 files');
    expect(response.body.match(/<li class="result-added">/g)).toHaveLength(2);
    const docs = await documents();
    expect(docs.map((d) => [d.fileName, d.status, d.chunkCount > 0, d.format])).toEqual(
      expect.arrayContaining([
        ['printer.txt', 'indexed', true, 'text'],
        ['runbook.md', 'indexed', true, 'markdown'],
      ]),
    );
    const page = await session.get('/knowledge/general');
    expect(page.body).toContain('printer.txt');
    expect(page.body).toContain('runbook.md');
    expect(page.body).toContain('admin@127.0.0.1');
    const listing = await session.get('/knowledge');
    expect(listing.body).toContain('href="/knowledge/general"');
    const audit = await admin.rt.database.db.selectFrom('audit_log').select(['action', 'target']).where('action', '=', 'knowledge.add').execute();
    expect(audit.length).toBeGreaterThanOrEqual(2);
  });

  it('should refuse a duplicate with its reason and still add the other file of the same upload', async () => {
    const response = await upload('general', [
      { filename: 'printer-again.txt', value: NOTE, type: 'text/plain' },
      { filename: 'wifi.txt', value: 'The guest Wi-Fi password changes every Monday; ask reception for the card.', type: 'text/plain' },
    ]);
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatch(/printer-again\.txt<\/strong>: <span class="state state-error">refused<\/span> This is already in the knowledge as &quot;printer&quot; \(document \d+/);
    expect(response.body).toMatch(/wifi\.txt<\/strong>: <span class="state state-connected">added<\/span>/);
    const names = (await documents()).map((d) => d.fileName);
    expect(names).toContain('wifi.txt');
    expect(names).not.toContain('printer-again.txt');
  });

  it('should report a zip named .pdf and a scanned-only PDF as failed with the reason', async () => {
    const zip = Buffer.concat([Buffer.from('PK\u0003\u0004', 'latin1'), Buffer.alloc(200, 1)]);
    const scan = await makePdf([{ scanned: true }]);
    const response = await upload('general', [
      { filename: 'manual.pdf', value: zip, type: 'application/pdf' },
      { filename: 'scan.pdf', value: scan, type: 'application/pdf' },
    ]);
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatch(/manual\.pdf<\/strong>: <span class="state state-error">unreadable<\/span>/);
    expect(response.body).toMatch(/scan\.pdf<\/strong>: <span class="state state-error">unreadable<\/span>/);
    const docs = await documents();
    const failed = docs.filter((d) => d.fileName === 'manual.pdf' || d.fileName === 'scan.pdf');
    expect(failed.map((d) => d.status)).toEqual(['failed', 'failed']);
    const page = await session.get('/knowledge/general');
    for (const d of failed) expect(page.body).toContain(escaped(d.error!));
    expect(response.body).toContain(escaped(failed[0]!.error!));
  });

  it('should add pasted text', async () => {
    const response = await session.post('/knowledge/general/text', { title: 'Door codes', text: 'The workshop door code is rotated monthly by facilities.' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('Door codes');
    const doc = (await documents()).find((d) => d.title === 'Door codes');
    expect(doc).toMatchObject({ source: 'text', status: 'indexed' });
  });

  it('should refuse a loopback URL with the address policy’s words, and add it when allowHosts names the address', async () => {
    const refused = await session.post('/knowledge/general/url', { url: `${base}/guide.txt` });
    expect(refused.statusCode).toBe(422);
    expect(refused.body).toContain('refused: 127.0.0.1 is a loopback address (allow it in tools.fetchUrl.allowHosts)');
    expect((await documents()).some((d) => d.source === 'url')).toBe(false);

    admin.ctx.config.tools.fetchUrl.allowHosts = ['127.0.0.1'];
    try {
      const added = await session.post('/knowledge/general/url', { url: `${base}/guide.txt` });
      expect(added.statusCode).toBe(200);
      expect(added.body).toMatch(/guide\.txt<\/strong>: <span class="state state-connected">added<\/span>/);
      const doc = (await documents()).find((d) => d.source === 'url');
      expect(doc).toMatchObject({ fileName: 'guide.txt', sourceUrl: `${base}/guide.txt`, status: 'indexed' });
    } finally {
      admin.ctx.config.tools.fetchUrl.allowHosts = [];
    }
  });

  it('should show a document’s text escaped in the preview and on its page', async () => {
    await upload('general', [{ filename: 'evil.html.txt', value: 'Beware <script>alert("owned")</script> in the kiosk notes.', type: 'text/plain' }]);
    const doc = (await documents()).find((d) => d.fileName === 'evil.html.txt')!;
    for (const url of [`/knowledge/documents/${doc.id}/preview`, `/knowledge/documents/${doc.id}`]) {
      const page = await session.get(url);
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('&lt;script&gt;alert(');
      expect(page.body).not.toContain('<script>alert(');
    }
  });

  it('should mark the cited page of a PDF on the document page', async () => {
    const pdf = await makePdf([{ heading: 'Setup', paragraphs: ['Plug the unit in.'] }, { heading: 'Reset', paragraphs: ['Hold the pinhole button for ten seconds.'] }]);
    await upload('general', [{ filename: 'unit.pdf', value: pdf, type: 'application/pdf' }]);
    const doc = (await documents()).find((d) => d.fileName === 'unit.pdf')!;
    expect(doc.pageCount).toBe(2);
    const page = await session.get(`/knowledge/documents/${doc.id}?page=2`);
    expect(page.body).toMatch(/<section class="doc-page current" id="page-2"[^>]*aria-current="page">\s*<h2 class="doc-page-number">Page 2<\/h2>\s*<pre class="tool-text">Reset/);
    expect(page.body).toMatch(/<section class="doc-page" id="page-1"/);
  });

  it('should show what a question retrieves, with the chunk and its score', async () => {
    const response = await session.post('/knowledge/general/test', { query: 'paper jam drawer' }, { htmx: true });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('printer.txt');
    expect(response.body).toContain('pull the green lever');
    expect(response.body).toMatch(/score <span class="source-score">\d+\.\d{4}<\/span> · matched by keywords/);
    const nothing = await session.post('/knowledge/general/test', { query: 'zebra migration' }, { htmx: true });
    expect(nothing.body).toContain('Nothing in these documents matches');
  });

  it('should re-index a document and write it to the audit log', async () => {
    const doc = (await documents()).find((d) => d.fileName === 'runbook.md')!;
    const response = await session.post(`/knowledge/documents/${doc.id}/reindex`);
    expect(response.statusCode).toBe(303);
    const page = await session.get('/knowledge/general');
    expect(page.body).toContain('Re-indexed “Backups”');
    expect(await chunkRows(doc.id)).toBe(doc.chunkCount);
    const audit = await admin.rt.database.db.selectFrom('audit_log').select('target').where('action', '=', 'knowledge.reindex').execute();
    expect(audit.map((a) => a.target)).toContain(`general/${doc.id}`);
  });

  it('should ask before deleting, then delete the document with its chunks', async () => {
    const doc = (await documents()).find((d) => d.fileName === 'wifi.txt')!;
    expect(await chunkRows(doc.id)).toBeGreaterThan(0);
    const confirm = await session.get(`/knowledge/documents/${doc.id}/delete`, { 'hx-request': 'true' });
    expect(confirm.body).toContain('Yes, delete it');
    const response = await session.post(`/knowledge/documents/${doc.id}/delete`);
    expect(response.statusCode).toBe(303);
    expect((await documents()).some((d) => d.id === doc.id)).toBe(false);
    expect(await chunkRows(doc.id)).toBe(0);
    expect((await session.get(`/knowledge/documents/${doc.id}`)).statusCode).toBe(404);
    const audit = await admin.rt.database.db.selectFrom('audit_log').select('target').where('action', '=', 'knowledge.delete').execute();
    expect(audit.map((a) => a.target)).toContain(`general/${doc.id}`);
  });

  it('should not list one Experience’s documents on another’s page, nor retrieve them there', async () => {
    const page = await session.get('/knowledge/other-team');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('No documents yet.');
    expect(page.body).not.toContain('printer.txt');
    const test = await session.post('/knowledge/other-team/test', { query: 'paper jam drawer' }, { htmx: true });
    expect(test.body).not.toContain('green lever');
  });

  it('should refuse an upload or a paste without the CSRF token, adding nothing', async () => {
    const before = (await documents()).length;
    const response = await upload('general', [{ filename: 'sneaky.txt', value: 'A file from another site.' }], false);
    expect(response.statusCode).toBe(403);
    const paste = await session.post('/knowledge/general/text', { title: 'x', text: 'Also from another site.' }, { csrf: false });
    expect(paste.statusCode).toBe(403);
    expect((await documents()).length).toBe(before);
  });

  it('should show the knowledge progress on the dashboard', async () => {
    const page = await session.get('/');
    expect(page.body).toMatch(/<h2 id="knowledge-h">Knowledge<\/h2>/);
    expect(page.body).toMatch(/id="knowledge-state"[\s\S]*<dt>Indexed<\/dt><dd>\d+<\/dd>[\s\S]*<dt>Failed<\/dt><dd>2<\/dd>/);
  });

  it('should show what embedding a collection has cost, from the usage ledger', async () => {
    const general = (await admin.rt.deps.experiences.get('general'))!;
    const homelab = (await admin.rt.deps.experiences.get('homelab'))!;
    const row = { platform: null, user_id: null, conversation_id: null, message_id: null, provider: 'openai', model: 'openai/text-embedding-3-small', purpose: 'knowledge' as const, tokens_out: 0, estimated: 0, latency_ms: 40, ttft_ms: null, status: 'ok' as const, error: null };
    await admin.rt.deps.db.insertInto('usage_events').values([
      { ...row, experience_id: general.id, tokens_in: 60_000, cost_usd: 0.0012, created_at: new Date().toISOString() },
      { ...row, experience_id: homelab.id, tokens_in: 5_000, cost_usd: 0.5, created_at: new Date().toISOString() },
    ]).execute();
    const page = await session.get('/knowledge/general');
    expect(page.body).toContain('Embedding this collection and its questions: $0.0012 over 1 call (60,000 tokens)');
  });
});
