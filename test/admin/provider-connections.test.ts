import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../src/core/audit.js';
import { startFakeOpenAI, type FakeProviderServer } from '../fakes/providers.js';
import { startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';

const KEY = 'sk-admin-page-secret-7781';

let admin: TestAdmin;
let session: AdminSession;
let lab: FakeProviderServer;

beforeAll(async () => {
  lab = await startFakeOpenAI({ models: ['lab-model', 'lab-small'] });
  admin = await startTestAdmin();
  session = await admin.login();
});

afterAll(async () => {
  await admin.close();
  await lab.close();
});

const form = (overrides: Record<string, string> = {}) => ({ name: 'lab', kind: 'openai', baseURL: lab.url, apiKey: KEY, maxConcurrent: '3', requestsPerMinute: '', enabled: 'on', ...overrides });
const audited = async (action: string) => (await listAudit(admin.rt.database.db, { action })).map((e) => ({ target: e.target, detail: e.detail }));

describe('Connections page', () => {
  it('should list env providers read-only with where they come from', async () => {
    const page = await session.get('/connections');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>Connections</h1>');
    expect(page.body).toContain('environment: OPENAI_API_KEY, OPENAI_BASE_URL');
    expect(page.body).toContain('environment: OLLAMA_HOST');
    expect(page.body).toContain('href="/connections" aria-current="page"');
  });

  it('should put validation messages beside the fields and keep nothing', async () => {
    const response = await session.post('/connections', form({ name: 'openai', baseURL: 'nope', maxConcurrent: 'x' }));
    expect(response.statusCode).toBe(422);
    expect(response.body).toMatch(/id="f-name-error">&quot;openai&quot; is already a provider|id="f-name-error">"openai" is already a provider/);
    expect(response.body).toContain('id="f-baseURL-error">a URL starting with http:// or https://');
    expect(response.body).toContain('id="f-maxConcurrent-error">a whole number from 1 to 256');
    expect(response.body).not.toContain(KEY);
    expect(await admin.rt.connections.list()).toHaveLength(0);
  });

  it('should test the entered values before saving and list the models, or say why not', async () => {
    const ok = await session.post('/connections/test', form(), { htmx: true });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('2 models offered');
    expect(ok.body).toContain('<code>lab-model</code>');
    lab.scriptFor('models', { status: 401 });
    const refused = await session.post('/connections/test', form({ apiKey: 'wrong' }), { htmx: true });
    expect(refused.body).toContain('Test failed: the key was refused');
  });

  it('should refuse a post without the CSRF token', async () => {
    expect((await session.post('/connections', form(), { csrf: false })).statusCode).toBe(403);
  });

  it('should add, edit and remove a connection live, never showing the key, with audit rows', async () => {
    const added = await session.post('/connections', form());
    expect(added.statusCode).toBe(303);
    expect(admin.rt.deps.router.provider('lab')).toBeDefined();
    const page = await session.get('/connections');
    expect(page.body).toContain('Added the connection “lab”');
    expect(page.body).not.toContain(KEY);
    const { id } = (await admin.rt.connections.list())[0]!;
    const edit = await session.get(`/connections/${id}/edit`);
    expect(edit.body).toContain('A key is saved — leave empty to keep it.');
    expect(edit.body).toContain('name="clearKey"');
    expect(edit.body).not.toContain(KEY);
    // a test from the edit form uses the saved key
    const tested = await session.post('/connections/test', { ...form({ apiKey: '' }), id: String(id) }, { htmx: true });
    expect(tested.body).toContain('2 models offered');
    expect(lab.requests.at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect((await session.post(`/connections/${id}`, form({ apiKey: '', requestsPerMinute: '30' }))).statusCode).toBe(303);
    expect((await admin.rt.connections.get(id))).toMatchObject({ hasKey: true, requestsPerMinute: 30 });
    expect((await session.post(`/connections/${id}/remove`)).statusCode).toBe(303);
    expect(admin.rt.deps.router.provider('lab')).toBeUndefined();
    expect(await audited('connection.')).toEqual([
      { target: 'lab', detail: `openai at ${lab.url}` },
      { target: 'lab', detail: 'limits 3 at once, 30 per minute' },
      { target: 'lab', detail: `openai at ${lab.url}, with a key` },
    ]);
    expect(JSON.stringify(await listAudit(admin.rt.database.db))).not.toContain(KEY);
  });
});

describe('model pickers', () => {
  it('should offer the models of every provider, connections included, as datalists that still take a typed id', async () => {
    await session.post('/connections', form({ name: 'picker' }));
    const models = await session.get('/models');
    expect(models.body).toContain('<input id="default-model" name="defaultModel" list="model-ids"');
    expect(models.body).toMatch(/<datalist id="model-ids">[\s\S]*<option value="picker\/lab-model">[\s\S]*<\/datalist>/);
    expect(models.body).toContain('<option value="openai/gpt-4o-mini">');
    const saved = await session.post('/models/defaults', { defaultModel: 'picker/lab-model', fallbacks: 'openai/gpt-4o-mini' }, { htmx: true });
    expect(saved.body).toContain('Saved.');
    const experience = await session.get('/experiences/general');
    expect(experience.body).toMatch(/name="model" value="" placeholder="[^"]*" list="model-ids"/);
    expect(experience.body).toContain('name="fallbackModels" list="model-ids"');
    expect(experience.body).toContain('list="binding-model-ids"');
    expect(experience.body).toContain('<option value="picker/lab-small">');
  });

  it('should refuse a binding whose model names no provider, beside the field', async () => {
    const response = await session.post('/experiences/general/bindings', { platform: 'discord', channelId: '42', modelOverride: 'nowhere/x' }, { htmx: true });
    expect(response.statusCode).toBe(422);
    expect(response.body).toContain('no provider named &quot;nowhere&quot; is configured or connected');
    const ok = await session.post('/experiences/general/bindings', { platform: 'discord', channelId: '42', modelOverride: 'picker/lab-model' }, { htmx: true });
    expect(ok.statusCode).toBe(200);
  });
});
