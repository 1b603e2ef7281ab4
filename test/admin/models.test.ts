import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSseEvents } from '../../src/admin/sse.js';
import { listAudit } from '../../src/core/audit.js';
import { OllamaModels } from '../../src/core/providers/ollama-models.js';
import { modelDefaults } from '../../src/core/settings.js';
import type { FakeOllamaServer } from '../fakes/providers.js';
import { startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';
import { until } from '../support/wait.js';

let admin: TestAdmin;
let session: AdminSession;
let ollama: FakeOllamaServer;

beforeAll(async () => {
  admin = await startTestAdmin();
  session = await admin.login();
  ollama = admin.rt.ollama as FakeOllamaServer;
});

afterAll(async () => {
  await admin.close();
});

const db = () => admin.rt.database.db;
const audited = async (action: string) => (await listAudit(db(), { action })).map((e) => ({ target: e.target, detail: e.detail }));
const progressOf = (html: string) => ({
  status: /data-status="([^"]*)"/.exec(html)?.[1],
  percent: /data-percent="([^"]*)"/.exec(html)?.[1],
});

describe('Models page', () => {
  it('should list every provider\'s models with context length and price', async () => {
    const page = await session.get('/models');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>Models</h1>');
    expect(page.body).toContain('src="/static/htmx/ext/hx-sse.min.js"');
    const catalog = await session.get('/models/catalog', { 'hx-request': 'true' });
    expect(catalog.statusCode).toBe(200);
    const row = (id: string) => new RegExp(`<tr data-model="${id.replace(/[/.]/g, '\\$&')}">([\\s\\S]*?)</tr>`).exec(catalog.body)?.[1] ?? '';
    expect(row('openai/gpt-4o-mini')).toContain('$0.15 in / $0.6 out per 1M tokens');
    expect(row('anthropic/claude-haiku-4-5')).toContain('$1 in / $5 out per 1M tokens');
    expect(row('ollama/llama3.2:latest')).toContain('131,072 tokens');
    expect(row('ollama/llama3.2:latest')).toContain('free');
    expect(row('openai/gpt-4o-mini')).toContain('default');
  });

  it('should show a model\'s details from /api/show', async () => {
    const details = await session.get('/models/ollama/ollama/show?model=llava:latest');
    expect(details.statusCode).toBe(200);
    expect(details.body).toContain('<dt>Context length</dt><dd>131,072</dd>');
    expect(details.body).toContain('completion, vision');
    expect((await session.get('/models/ollama/nope/show?model=llava')).statusCode).toBe(404);
  });
});

describe('Ollama pull', () => {
  it('should stream progress that only grows, reaches 100% and ends with success', async () => {
    ollama.setPullPace(10, 2);
    const response = await session.post('/models/ollama/ollama/pull', { model: 'tinyllama' }, { htmx: true, header: true });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = readSseEvents(response.body);
    const progress = events.filter((e) => e.event === 'message').map((e) => progressOf(e.data));
    expect(progress.length).toBeGreaterThan(1);
    const percents = progress.map((p) => p.percent).filter((p) => p !== '').map(Number);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(progress.at(-1)).toEqual({ status: 'success', percent: '100' });
    expect(events.at(-1)).toEqual({ event: 'done', data: 'success' });
    expect(events.at(-2)!.data).toContain('hx-get="/models/ollama/ollama/panel"');
    expect(ollama.models).toContain('tinyllama:latest');
    expect((await session.get('/models/ollama/ollama/panel')).body).toContain('<tr data-model="tinyllama:latest">');
    expect(await audited('model.pull')).toContainEqual({ target: 'ollama/tinyllama', detail: 'ok' });
  });

  it('should let a page opened during a pull follow it to the end', async () => {
    ollama.setPullPace(10, 30);
    // inject sends only once awaited: start it now, read it later
    const started = Promise.resolve(session.post('/models/ollama/ollama/pull', { model: 'smollm2:135m' }, { htmx: true, header: true }));
    await until(() => ollama.requests.some((r) => r.path === '/api/pull' && r.body.model === 'smollm2:135m'));
    const page = (await session.get('/models')).body;
    expect(page).toContain('hx-sse:connect="/models/ollama/ollama/pull?model=smollm2%3A135m" hx-sse:close="done"');
    const followed = readSseEvents((await session.get('/models/ollama/ollama/pull?model=smollm2%3A135m')).body);
    expect(followed.at(-1)).toEqual({ event: 'done', data: 'success' });
    expect(progressOf(followed.at(-2)!.data)).toEqual({ status: 'success', percent: '100' });
    expect(readSseEvents((await started).body).at(-1)).toEqual({ event: 'done', data: 'success' });
    // one pull, one audit entry, however many pages watched it
    expect((await audited('model.pull')).filter((e) => e.target === 'ollama/smollm2:135m')).toHaveLength(1);
    expect((await session.get('/models/ollama/ollama/pull?model=mistral')).statusCode).toBe(404);
  });

  it('should end with the server\'s error for a model it does not have', async () => {
    ollama.setPullPace(2, 0);
    const response = await session.post('/models/ollama/ollama/pull', { model: 'no-such-model' }, { htmx: true, header: true });
    const events = readSseEvents(response.body);
    expect(events.at(-1)).toEqual({ event: 'done', data: 'error' });
    expect(events.at(-2)!.data).toContain('pull model manifest: file does not exist');
    expect(ollama.models).not.toContain('no-such-model:latest');
  });

  it('should refuse a pull without the CSRF token and never ask Ollama', async () => {
    const before = ollama.requests.filter((r) => r.path === '/api/pull').length;
    const response = await session.post('/models/ollama/ollama/pull', { model: 'mistral' }, { csrf: false });
    expect(response.statusCode).toBe(403);
    expect(ollama.requests.filter((r) => r.path === '/api/pull').length).toBe(before);
  });
});

describe('Ollama load, unload and delete', () => {
  it('should load a model and show it as loaded now with its memory and expiry', async () => {
    const response = await session.post('/models/ollama/ollama/load', { model: 'llama3.2:latest' }, { htmx: true });
    expect(response.statusCode).toBe(200);
    expect(ollama.loaded().map((m) => m.name)).toEqual(['llama3.2:latest']);
    const loaded = /<table class="loaded"[\s\S]*?<\/table>/.exec(response.body)?.[0] ?? '';
    expect(loaded).toContain('<code>llama3.2:latest</code>');
    expect(loaded).toContain('1.9 GB (100%)');
    expect(loaded).toMatch(/<time datetime="\d{4}-\d{2}-\d{2}T/);
    expect(ollama.requests.filter((r) => r.path === '/api/generate').at(-1)!.body).toMatchObject({ model: 'llama3.2:latest', prompt: '', keep_alive: '30m' });
    expect(await audited('model.load')).toContainEqual({ target: 'ollama/llama3.2:latest', detail: null });
  });

  it('should unload with keep_alive 0', async () => {
    await session.post('/models/ollama/ollama/load', { model: 'llava:latest' }, { htmx: true });
    const response = await session.post('/models/ollama/ollama/unload', { model: 'llava:latest' }, { htmx: true });
    expect(response.statusCode).toBe(200);
    const generate = ollama.requests.filter((r) => r.path === '/api/generate').at(-1)!;
    expect(generate.body).toMatchObject({ model: 'llava:latest', keep_alive: 0 });
    expect(ollama.loaded().map((m) => m.name)).not.toContain('llava:latest');
    expect(response.body).toContain('llava:latest is unloaded.');
    expect(await audited('model.unload')).toContainEqual({ target: 'ollama/llava:latest', detail: null });
  });

  it('should only ask on the first delete, and delete after the confirmation', async () => {
    const deletes = () => ollama.requests.filter((r) => r.path === '/api/delete').length;
    const first = await session.post('/models/ollama/ollama/delete', { model: 'llava:latest' }, { htmx: true });
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('Delete <code>llava:latest</code> from ollama for good?');
    expect(first.body).toContain('name="confirm" value="llava:latest"');
    expect(deletes()).toBe(0);
    const wrong = await session.post('/models/ollama/ollama/delete', { model: 'llava:latest', confirm: 'llama3.2:latest' }, { htmx: true });
    expect(wrong.body).toContain('for good?');
    expect(deletes()).toBe(0);
    expect(ollama.models).toContain('llava:latest');

    const confirmed = await session.post('/models/ollama/ollama/delete', { model: 'llava:latest', confirm: 'llava:latest' }, { htmx: true });
    expect(confirmed.statusCode).toBe(200);
    expect(deletes()).toBe(1);
    expect(ollama.models).not.toContain('llava:latest');
    expect(confirmed.body).not.toContain('<tr data-model="llava:latest">');
    expect(await audited('model.delete')).toEqual([{ target: 'ollama/llava:latest', detail: null }]);
  });

  it('should refuse load, unload and delete without the CSRF token', async () => {
    const before = ollama.requests.length;
    for (const action of ['load', 'unload', 'delete']) {
      const response = await session.post(`/models/ollama/ollama/${action}`, { model: 'llama3.2:latest', confirm: 'llama3.2:latest' }, { csrf: false });
      expect(response.statusCode, action).toBe(403);
    }
    expect(ollama.requests.length).toBe(before);
    expect(ollama.models).toContain('llama3.2:latest');
  });
});

describe('default model and fallbacks', () => {
  it('should store them, audit the change and show them', async () => {
    const response = await session.post('/models/defaults', { defaultModel: 'ollama/llama3.2', fallbacks: 'openai/gpt-4o-mini\nanthropic/claude-haiku-4-5\nollama/llama3.2' }, { htmx: true });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('Saved.');
    expect(await modelDefaults(db(), admin.rt.deps.config)).toEqual({ defaultModel: 'ollama/llama3.2', fallbacks: ['openai/gpt-4o-mini', 'anthropic/claude-haiku-4-5'], source: 'settings', fallbacksSource: 'settings' });
    expect(await audited('models.default')).toContainEqual({ target: 'ollama/llama3.2', detail: 'default ollama/llama3.2; fallbacks openai/gpt-4o-mini, anthropic/claude-haiku-4-5' });
    expect((await session.get('/models')).body).toContain('value="ollama/llama3.2"');
  });

  it('should refuse a model id that is not provider/model, or names no configured provider', async () => {
    expect((await session.post('/models/defaults', { defaultModel: 'llama3.2', fallbacks: '' })).statusCode).toBe(400);
    const unknown = await session.post('/models/defaults', { defaultModel: 'mistralai/large', fallbacks: '' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toContain('no provider named &quot;mistralai&quot; is configured');
    expect((await modelDefaults(db(), admin.rt.deps.config)).defaultModel).toBe('ollama/llama3.2');
  });

  it('should refuse a change without the CSRF token', async () => {
    const response = await session.post('/models/defaults', { defaultModel: 'openai/gpt-4o', fallbacks: '' }, { csrf: false });
    expect(response.statusCode).toBe(403);
    expect((await modelDefaults(db(), admin.rt.deps.config)).defaultModel).toBe('ollama/llama3.2');
  });
});

describe('try it', () => {
  it('should stream the answer as it comes, then time to first token and tokens/s', async () => {
    admin.rt.openai.script({ answer: 'The quick brown fox jumps over the lazy dog, twice.', chunkSize: 3, delayMs: 15, usage: { input: 9, output: 12 } });
    const response = await session.post('/models/try', { model: 'openai/gpt-4o-mini', prompt: 'Tell me about <foxes>' }, { htmx: true, header: true });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = readSseEvents(response.body);
    const answers = events.filter((e) => e.event === 'message').map((e) => ({ status: /data-status="([^"]+)"/.exec(e.data)?.[1], text: /<pre class="answer">([\s\S]*?)<\/pre>/.exec(e.data)?.[1] ?? '' }));
    const streaming = answers.filter((a) => a.status === 'streaming');
    expect(streaming.length).toBeGreaterThan(0);
    for (const partial of streaming) expect('The quick brown fox jumps over the lazy dog, twice.'.startsWith(partial.text)).toBe(true);
    expect(answers.at(-1)).toEqual({ status: 'ok', text: 'The quick brown fox jumps over the lazy dog, twice.' });
    const last = events.filter((e) => e.event === 'message').at(-1)!.data;
    expect(last).toMatch(/First token after <strong data-figure="ttft">\d+ ms<\/strong>/);
    expect(last).toMatch(/<strong data-figure="tokens-per-second">[\d.]+ tokens\/s<\/strong> \(12 tokens, \d+ ms in all\)/);
    expect(events.at(-1)).toEqual({ event: 'done', data: 'ok' });
    expect(admin.rt.openai.lastChatBody().messages).toEqual([{ role: 'user', content: 'Tell me about <foxes>' }]);
    const usage = await db().selectFrom('usage_events').selectAll().where('platform', '=', 'admin').execute();
    expect(usage.map((u) => [u.model, u.tokens_in, u.tokens_out])).toEqual([['openai/gpt-4o-mini', 9, 12]]);
  });

  it('should say what went wrong when the model fails', async () => {
    admin.rt.anthropic.script({ status: 400, errorMessage: 'prompt is too long' });
    const response = await session.post('/models/try', { model: 'anthropic/claude-haiku-4-5', prompt: 'hi' }, { htmx: true });
    const last = readSseEvents(response.body).filter((e) => e.event === 'message').at(-1)!.data;
    expect(last).toContain('data-status="error"');
    expect(last).toContain('the provider rejected the request');
  });

  it('should refuse without the CSRF token', async () => {
    const before = admin.rt.openai.chatRequests().length;
    const response = await session.post('/models/try', { model: 'openai/gpt-4o-mini', prompt: 'hi' }, { csrf: false });
    expect(response.statusCode).toBe(403);
    expect(admin.rt.openai.chatRequests().length).toBe(before);
  });
});

describe(OllamaModels.name, () => {
  const server = () => new OllamaModels(ollama.url, 'ollama');

  it('should report every progress line of a pull, never going back, ending done at 100%', async () => {
    ollama.setPullPace(4, 0);
    const seen = [];
    for await (const progress of server().pull('mistral')) seen.push(progress);
    const statuses = seen.map((p) => p.status);
    expect(statuses[0]).toBe('pulling manifest');
    expect(statuses.slice(-3)).toEqual(['verifying sha256 digest', 'writing manifest', 'success']);
    // two layers of five lines each; the second (small) layer is announced after the first is done
    expect(seen.filter((p) => p.digest !== null)).toHaveLength(10);
    const percents = seen.map((p) => p.percent).filter((p): p is number => p !== null);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(seen.at(-1)).toMatchObject({ done: true, percent: 100 });
    expect(seen.slice(0, -1).every((p) => !p.done)).toBe(true);
  });

  it('should throw Ollama\'s own error for a name it cannot pull', async () => {
    const pulling = async () => {
      for await (const _ of server().pull('not-a-model')) void _;
    };
    await expect(pulling()).rejects.toThrow('ollama: pull not-a-model: pull model manifest: file does not exist');
  });

  it('should read what is loaded, with memory and expiry, and forget it after unload', async () => {
    await server().load('llama3.2:latest', '10m');
    const [loaded] = await server().running();
    expect(loaded).toMatchObject({ name: 'llama3.2:latest', size: 2_019_393_189, sizeVram: 2_019_393_189, contextLength: 4096 });
    expect(loaded!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 9 * 60_000);
    await server().load('llama3.2:latest', -1);
    expect((await server().running())[0]!.expiresAt).toBeNull(); // kept loaded for good
    await server().unload('llama3.2:latest');
    expect(await server().running()).toEqual([]);
  });

  it('should say not_found for deleting a model that is not there', async () => {
    await expect(server().delete('ghost:latest')).rejects.toMatchObject({ code: 'not_found' });
  });
});
