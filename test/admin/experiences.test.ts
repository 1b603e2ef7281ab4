import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';

let admin: TestAdmin;
let session: AdminSession;
beforeAll(async () => {
  admin = await startTestAdmin();
  session = await admin.login();
});
afterAll(async () => {
  await admin.close();
});

/** The `<div class="field">` around the input named `name`, as HTML. */
function fieldHtml(page: string, name: string): string {
  const at = page.indexOf(`name="${name}"`);
  if (at < 0) throw new Error(`no field ${name}`);
  const start = page.lastIndexOf('<div class="field', at);
  const end = page.indexOf('</div>', at);
  return page.slice(start, end);
}

/** The form as the page renders it: every input's and textarea's value, by name. */
function formOf(page: string): Record<string, string> {
  const values: Record<string, string> = {};
  const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  for (const m of page.matchAll(/<input id="f-[^"]*" name="([^"]+)" value="([^"]*)"/g)) values[m[1]!] = decode(m[2]!);
  for (const m of page.matchAll(/<input id="f-[^"]*" name="([^"]+)" type="checkbox"( checked)?>/g)) if (m[2]) values[m[1]!] = 'on';
  for (const m of page.matchAll(/<textarea id="f-[^"]*" name="([^"]+)"[^>]*>([\s\S]*?)<\/textarea>/g)) values[m[1]!] = decode(m[2]!);
  return values;
}

/** The import's file form as a browser posts it: multipart, the CSRF token a field beside the file. */
function importFile(content: string | Buffer, fields: Record<string, string> = {}, csrf = session.csrf) {
  const boundary = '----threadloomimport9f2c';
  const part = (name: string, value: string | Buffer, filename?: string) =>
    Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"\r\nContent-Type: application/json` : ''}\r\n\r\n`),
      Buffer.from(value),
      Buffer.from('\r\n'),
    ]);
  const body = Buffer.concat([part('_csrf', csrf), ...Object.entries(fields).map(([k, v]) => part(k, v)), part('file', content, 'experiences.json'), Buffer.from(`--${boundary}--\r\n`)]);
  return admin.app.inject({ method: 'POST', url: '/experiences/import', headers: { cookie: session.cookie, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: body });
}

async function auditActions(): Promise<string[]> {
  return (await admin.rt.deps.db.selectFrom('audit_log').select('action').orderBy('id').execute()).map((r) => r.action);
}

describe('Experiences page', () => {
  it('should list the installed Experiences and offer every template', async () => {
    const page = (await session.get('/experiences')).body;
    expect(page).toContain('General assistant');
    expect(page).toContain('<option value="homelab">Homelab &amp; DevOps buddy</option>');
  });

  it('should create an Experience from a template and list it', async () => {
    const form = await session.get('/experiences/new?template=homelab');
    expect(form.statusCode).toBe(200);
    const values = formOf(form.body);
    // the template's own slug is taken (installed on first start): the form offers the next free one
    expect(values.slug).toBe('homelab-2');
    expect(values.personaName).toBe('Homelab Buddy');
    expect(values['params.temperature']).toBe('0.3');
    expect(values.systemPrompt).toContain('seasoned homelab');

    const created = await session.post('/experiences', { ...values, name: 'Lab at home', slug: 'lab-at-home' });
    expect(created.statusCode).toBe(303);
    expect(created.headers.location).toBe('/experiences');
    const list = (await session.get('/experiences')).body;
    expect(list).toContain('Created the Experience “Lab at home”.');
    expect(list).toContain('<a href="/experiences/lab-at-home">Lab at home</a>');
    const stored = await admin.rt.deps.experiences.require('lab-at-home');
    expect(stored).toMatchObject({ personaName: 'Homelab Buddy', params: { temperature: 0.3 }, contextPolicy: { maxMessages: 30 } });
    expect((await auditActions()).at(-1)).toBe('experience.create');
  });

  it('should show what is wrong beside the field and save nothing', async () => {
    const values = formOf((await session.get('/experiences/new?template=general')).body);
    const response = await session.post('/experiences', { ...values, slug: 'bad-one', model: 'gpt4 mini', 'params.temperature': '5', 'contextPolicy.maxMessages': 'many' });
    expect(response.statusCode).toBe(422);
    expect(fieldHtml(response.body, 'model')).toContain('must look like provider/model');
    expect(fieldHtml(response.body, 'params.temperature')).toMatch(/class="field-error"[^>]*>[^<]*2/);
    expect(fieldHtml(response.body, 'contextPolicy.maxMessages')).toContain('must be a number');
    // fields without a problem carry no message, and what was typed stays in the form
    expect(fieldHtml(response.body, 'name')).not.toContain('field-error');
    expect(formOf(response.body).model).toBe('gpt4 mini');
    expect(await admin.rt.deps.experiences.get('bad-one')).toBeNull();
  });

  it('should refuse a model on a provider that is not configured', async () => {
    const values = formOf((await session.get('/experiences/general')).body);
    const response = await session.post('/experiences/general', { ...values, model: 'mistral/large', fallbackModels: 'openai/gpt-4o\nnowhere/model' });
    expect(response.statusCode).toBe(422);
    expect(fieldHtml(response.body, 'model')).toContain('no provider &quot;mistral&quot; is configured');
    expect(fieldHtml(response.body, 'fallbackModels')).toContain('nowhere/model');
    expect((await admin.rt.deps.experiences.require('general')).model).toBeNull();
  });

  it('should put a taken slug beside the slug field', async () => {
    const values = formOf((await session.get('/experiences/new')).body);
    const response = await session.post('/experiences', { ...values, name: 'Copy', slug: 'general' });
    expect(response.statusCode).toBe(422);
    expect(fieldHtml(response.body, 'slug')).toContain('already exists');
  });

  it('should edit persona, prompt, model, fallbacks, params and context policy', async () => {
    const values = formOf((await session.get('/experiences/general')).body);
    const response = await session.post('/experiences/general', {
      ...values,
      personaName: 'Loom',
      systemPrompt: 'Answer in haiku.',
      model: 'anthropic/claude-haiku-4-5',
      fallbackModels: 'openai/gpt-4o-mini\nollama/llama3.2',
      'params.temperature': '1.1',
      'params.maxTokens': '300',
      'contextPolicy.maxMessages': '7',
      'contextPolicy.tokenBudget': '4000',
      'contextPolicy.summarize': '',
    });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/experiences/general');
    const saved = await admin.rt.deps.experiences.require('general');
    expect(saved).toMatchObject({
      personaName: 'Loom',
      systemPrompt: 'Answer in haiku.',
      model: 'anthropic/claude-haiku-4-5',
      fallbackModels: ['openai/gpt-4o-mini', 'ollama/llama3.2'],
      params: { temperature: 1.1, maxTokens: 300, topP: null },
      contextPolicy: { maxMessages: 7, tokenBudget: 4000, summarize: false },
    });
    const page = (await session.get('/experiences/general')).body;
    expect(page).toContain('Saved “General assistant”.');
    expect(formOf(page)['contextPolicy.summarize']).toBeUndefined();
  });

  it('should archive and unarchive, the list hiding archived ones unless asked', async () => {
    await admin.rt.deps.experiences.create({ name: 'Old one', slug: 'old-one' });
    const archived = await session.post('/experiences/old-one/archive', {}, { htmx: true });
    expect(archived.statusCode).toBe(200);
    // htmx gets the row back, marked
    expect(archived.body).toMatch(/^<tr id="experience-old-one" class="archived">/);
    expect(archived.body).toContain('Unarchive');
    expect((await session.get('/experiences')).body).not.toContain('Old one');
    expect((await session.get('/experiences?archived=1')).body).toContain('Old one');
    await session.post('/experiences/old-one/unarchive');
    expect((await admin.rt.deps.experiences.require('old-one')).archivedAt).toBeNull();
    expect((await auditActions()).slice(-2)).toEqual(['experience.archive', 'experience.unarchive']);
  });

  it('should export JSON that imports back unchanged', async () => {
    await admin.rt.deps.experiences.create({ name: 'Round trip', slug: 'round-trip', systemPrompt: 'Say "hi" <b>twice</b>', tags: ['a', 'b'], params: { temperature: 0.4 } });
    const exported = await session.get('/experiences/export.json?slug=round-trip');
    expect(exported.headers['content-disposition']).toContain('attachment; filename="threadloom-experiences-round-trip.json"');
    const json = exported.body;
    const original = JSON.parse(json).experiences[0];

    // importing over an existing slug is refused unless replace is ticked
    const refused = await session.post('/experiences/import', { json });
    expect(refused.statusCode).toBe(422);
    expect(refused.body).toContain('already exists');
    expect(refused.body).toContain('id="import-error"');

    const renamed = JSON.stringify({ experiences: [{ ...original, slug: 'round-trip-2', name: 'Round trip 2' }] });
    expect((await session.post('/experiences/import', { json: renamed })).statusCode).toBe(303);
    const again = JSON.parse((await session.get('/experiences/export.json?slug=round-trip-2')).body).experiences[0];
    expect(again).toEqual({ ...original, slug: 'round-trip-2', name: 'Round trip 2' });
    expect((await auditActions()).at(-1)).toBe('experience.import');
  });

  it('should reject an import with a bad field and import nothing', async () => {
    const json = JSON.stringify([{ name: 'Fine', slug: 'fine-one' }, { name: 'Bad', slug: 'bad-two', params: { temperature: 9 } }]);
    const response = await session.post('/experiences/import', { json });
    expect(response.statusCode).toBe(422);
    expect(response.body).toContain('1.params.temperature');
    expect(await admin.rt.deps.experiences.get('fine-one')).toBeNull();
  });

  it('should bind a channel, show it, and remove it', async () => {
    const added = await session.post('/experiences/general/bindings', { platform: 'discord', channelId: '555', modelOverride: 'openai/gpt-4o' }, { htmx: true });
    expect(added.statusCode).toBe(200);
    expect(added.body).toMatch(/^<section id="bindings"/);
    expect(added.body).toContain('<code>555</code>');
    const row = await admin.rt.deps.db.selectFrom('bindings').selectAll().where('channel_id', '=', '555').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ platform: 'discord', model_override: 'openai/gpt-4o' });
    expect((await session.get('/experiences/general')).body).toContain('<code>555</code>');

    // the same channel bound again moves to the new Experience instead of failing
    await admin.rt.deps.experiences.create({ name: 'Other', slug: 'other' });
    await session.post('/experiences/other/bindings', { platform: 'discord', channelId: '555', modelOverride: '' });
    const moved = await admin.rt.deps.db.selectFrom('bindings').selectAll().where('channel_id', '=', '555').execute();
    expect(moved).toHaveLength(1);
    expect(moved[0]!.experience_id).toBe((await admin.rt.deps.experiences.require('other')).id);

    const removed = await session.post(`/experiences/other/bindings/${moved[0]!.id}/delete`, {}, { htmx: true });
    expect(removed.body).toContain('No channel is bound');
    expect(await admin.rt.deps.db.selectFrom('bindings').selectAll().where('channel_id', '=', '555').execute()).toHaveLength(0);
    expect((await auditActions()).filter((a) => a.startsWith('binding.'))).toEqual(['binding.add', 'binding.add', 'binding.remove']);
  });

  it('should show binding mistakes beside their fields', async () => {
    const response = await session.post('/experiences/general/bindings', { platform: 'Discord!', channelId: ' ', modelOverride: 'nope' }, { htmx: true });
    expect(response.statusCode).toBe(422);
    expect(response.body).toContain('a platform name such as discord');
    expect(response.body).toContain('the channel (or room) id is required');
    expect(response.body).toContain('must look like provider/model');
  });

  it('should import an uploaded export file, checked like pasted JSON', async () => {
    const file = JSON.stringify({ experiences: [{ name: 'From a file', slug: 'from-a-file', systemPrompt: 'hi' }] });
    const response = await importFile(file);
    expect(response.statusCode).toBe(303);
    expect((await admin.rt.deps.experiences.get('from-a-file'))?.name).toBe('From a file');
    expect((await auditActions()).at(-1)).toBe('experience.import');

    const again = await importFile(file);
    expect(again.statusCode).toBe(422);
    expect(again.body).toContain('already exists');
    expect((await importFile(JSON.stringify({ experiences: [{ name: 'From a file, again', slug: 'from-a-file', systemPrompt: 'hi' }] }), { replace: 'on' })).statusCode).toBe(303);
    expect((await admin.rt.deps.experiences.get('from-a-file'))?.name).toBe('From a file, again');

    const bad = await importFile(JSON.stringify([{ name: 'Bad', slug: 'bad-file', params: { temperature: 9 } }]));
    expect(bad.statusCode).toBe(422);
    expect(bad.body).toContain('0.params.temperature');
    expect(await admin.rt.deps.experiences.get('bad-file')).toBeNull();
  });

  it('should refuse an import file over the size limit, and one without the CSRF token', async () => {
    const huge = await importFile(Buffer.alloc(5 * 1024 * 1024, 0x20));
    expect(huge.statusCode).toBe(422);
    expect(huge.body).toContain('the file is larger than 4');
    const forged = await importFile(JSON.stringify({ name: 'Forged', slug: 'forged', systemPrompt: 'x' }), {}, 'not-the-token');
    expect(forged.statusCode).toBe(403);
    expect(await admin.rt.deps.experiences.get('forged')).toBeNull();
    const page = await session.get('/experiences');
    expect(page.body).toContain('enctype="multipart/form-data"');
    expect(page.body).toContain('name="file"');
  });

  it('should answer 404 for an Experience that does not exist', async () => {
    expect((await session.get('/experiences/nope')).statusCode).toBe(404);
    expect((await session.get('/experiences/new?template=nope')).statusCode).toBe(404);
  });
});
