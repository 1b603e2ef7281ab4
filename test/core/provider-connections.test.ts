import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { insertConnection, listConnections } from '../../src/core/connections/repository.js';
import { parseConnectionForm, type ConnectionForm } from '../../src/core/connections/form.js';
import { ConnectionService } from '../../src/core/connections/service.js';
import { modelDefaults, setModelDefaults } from '../../src/core/settings.js';
import { startFakeOpenAI, type FakeProviderServer } from '../fakes/providers.js';
import { storedInDatabase } from '../support/db.js';
import { RecordingReply, inbound } from '../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { answerRequests } from '../support/wait.js';

const KEY = 'sk-lab-very-secret-0042';

function form(overrides: Partial<ConnectionForm>): ConnectionForm {
  return { name: 'lab', kind: 'openai', baseURL: '', apiKey: '', clearKey: '', maxConcurrent: '2', requestsPerMinute: '', enabled: 'on', ...overrides };
}

function input(overrides: Partial<ConnectionForm>) {
  const { input, errors } = parseConnectionForm(form(overrides));
  if (!input) throw new Error(JSON.stringify(errors));
  return input;
}

let rt: TestRuntime;
let lab: FakeProviderServer;
beforeEach(async () => {
  lab = await startFakeOpenAI({ models: ['lab-model', 'lab-small'], defaultAnswer: 'from the lab' });
  rt = await startTestRuntime();
});
afterEach(async () => {
  await rt.shutdown();
  await lab.close();
});

async function lastAnswer() {
  return rt.deps.db.selectFrom('messages').selectAll().where('role', '=', 'assistant').orderBy('id', 'desc').executeTakeFirstOrThrow();
}

describe(ConnectionService.name, () => {
  describe('form', () => {
    it('should say what is wrong with each field', () => {
      const { input: parsed, errors } = parseConnectionForm(form({ name: 'Lab Box', kind: 'gemini', baseURL: 'ftp://x', maxConcurrent: '0', requestsPerMinute: 'lots' }));
      expect(parsed).toBeNull();
      expect(errors.name).toMatch(/lowercase/);
      expect(errors.kind).toMatch(/OpenAI-compatible, Anthropic or Ollama/);
      expect(errors.maxConcurrent).toMatch(/1 to 256/);
      expect(errors.requestsPerMinute).toMatch(/whole number/);
    });

    it('should fill in the kind default base URL', () => {
      expect(input({ kind: 'ollama' }).baseURL).toBe('http://127.0.0.1:11434');
      expect(parseConnectionForm(form({ baseURL: 'http://user:pw@host/v1' })).errors.baseURL).toMatch(/API key field/);
    });
  });

  describe('repository', () => {
    it('should store the key only sealed, in the table and anywhere in the database', async () => {
      await rt.connections.add(input({ baseURL: lab.url, apiKey: KEY }));
      const [row] = await listConnections(rt.deps.db);
      expect(row).toMatchObject({ name: 'lab', kind: 'openai', base_url: lab.url, max_concurrent: 2, requests_per_minute: null, enabled: 1 });
      expect(row!.api_key_sealed).toMatch(/^v1:/);
      expect(row!.api_key_sealed).not.toContain(KEY);
      expect(await storedInDatabase(rt.database, KEY)).toBe(false);
      expect(JSON.stringify(rt.logs)).not.toContain(KEY);
    });

    it('should refuse a name a config or env provider has, or another connection', async () => {
      expect((await rt.connections.add(input({ name: 'openai', baseURL: lab.url }))).errors.name).toMatch(/already a provider from the environment or the config file/);
      await rt.connections.add(input({ baseURL: lab.url }));
      expect((await rt.connections.add(input({ baseURL: lab.url }))).errors.name).toMatch(/already exists/);
    });
  });

  describe('run time', () => {
    it('should answer a chat turn through a connection added while running, with its key, for free', async () => {
      await rt.connections.add(input({ baseURL: lab.url, apiKey: KEY }));
      await setModelDefaults(rt.deps.db, { defaultModel: 'lab/lab-model', fallbacks: [] });
      const reply = new RecordingReply();
      await rt.engine.handle(inbound('hello lab'), reply);
      expect(reply.messages[0]!.text).toBe('from the lab');
      expect(answerRequests({ openai: lab })).toHaveLength(1);
      expect(lab.chatRequests()[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
      // 127.0.0.1 is this machine: its answers cost nothing
      const usage = await rt.deps.db.selectFrom('usage_events').selectAll().where('model', '=', 'lab/lab-model').execute();
      expect(usage.length).toBeGreaterThan(0);
      expect(usage.every((u) => u.cost_usd === 0)).toBe(true);
      expect(await rt.deps.catalog.knownIds()).toEqual(expect.arrayContaining(['lab/lab-model', 'lab/lab-small', 'openai/gpt-4o-mini']));
    });

    it('should fail turns clearly once the connection is removed', async () => {
      const { view } = await rt.connections.add(input({ baseURL: lab.url }));
      await setModelDefaults(rt.deps.db, { defaultModel: 'lab/lab-model', fallbacks: [] });
      await rt.engine.handle(inbound('first', { eventId: 'e1', messageId: 'm1' }), new RecordingReply());
      expect((await lastAnswer()).status).toBe('complete');
      await rt.connections.remove(view!.id);
      expect(rt.deps.router.provider('lab')).toBeUndefined();
      const reply = new RecordingReply();
      await rt.engine.handle(inbound('second', { eventId: 'e2', messageId: 'm2' }), reply);
      const answer = await lastAnswer();
      expect(answer.status).toBe('error');
      expect(answer.error).toContain('no provider named "lab"');
      expect(answerRequests({ openai: lab })).toHaveLength(1);
      expect(await rt.deps.catalog.knownIds()).not.toContain('lab/lab-model');
    });

    it('should use the new key and URL after an edit, keep the key when the field is empty, and clear it on request', async () => {
      const other = await startFakeOpenAI({ models: ['other-model'], defaultAnswer: 'from the other' });
      try {
        const { view } = await rt.connections.add(input({ baseURL: lab.url, apiKey: KEY }));
        await rt.connections.update(view!.id, input({ baseURL: other.url }));
        expect((await rt.connections.get(view!.id)).hasKey).toBe(true);
        expect(await rt.connections.test(input({ baseURL: other.url }), view!.id)).toEqual({ ok: true, models: ['other-model'] });
        expect(other.requests.at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`);
        await rt.connections.update(view!.id, input({ baseURL: other.url, clearKey: 'on' }));
        expect((await rt.connections.get(view!.id)).hasKey).toBe(false);
      } finally {
        await other.close();
      }
    });

    it('should say in plain words why a test failed', async () => {
      lab.scriptFor('models', { status: 401 });
      expect(await rt.connections.test(input({ baseURL: lab.url, apiKey: 'wrong' }))).toEqual({ ok: false, error: expect.stringContaining('the key was refused') });
      const closed = await startFakeOpenAI();
      const url = closed.url;
      await closed.close();
      expect(await rt.connections.test(input({ baseURL: url }))).toEqual({ ok: false, error: `nothing answers at ${url}` });
    });
  });

  describe('start', () => {
    it('should load stored connections and leave one whose key no longer decrypts off, with the remedy', async () => {
      await insertConnection(rt.deps.db, { name: 'broken', kind: 'openai', base_url: lab.url, api_key_sealed: 'v1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==:AAAA', requests_per_minute: null });
      await rt.connections.add(input({ baseURL: lab.url, apiKey: KEY }));
      await rt.close();
      const again = await startTestRuntime({ dir: rt.dir });
      try {
        expect(again.deps.router.provider('lab')).toBeDefined();
        expect(again.deps.router.provider('broken')).toBeUndefined();
        const broken = (await again.connections.list()).find((c) => c.name === 'broken')!;
        expect(broken.problem).toBe('cannot decrypt the key — was THREADLOOM_SECRET_KEY changed? re-enter the key');
        expect(again.logs.some((l) => l.level === 'warn' && l.message.includes('"broken" is off'))).toBe(true);
      } finally {
        await again.shutdown();
      }
      rt = await startTestRuntime(); // afterEach shuts this one down
    });
  });

  describe('config fallbacks', () => {
    it('should use fallbackModels from the config file until fallbacks are saved in the admin', async () => {
      const config = { defaultModel: 'openai/gpt-4o-mini', fallbackModels: ['anthropic/claude-haiku-4-5'] };
      expect(await modelDefaults(rt.deps.db, config)).toMatchObject({ fallbacks: ['anthropic/claude-haiku-4-5'], fallbacksSource: 'config' });
      await setModelDefaults(rt.deps.db, { defaultModel: 'openai/gpt-4o-mini', fallbacks: [] });
      expect(await modelDefaults(rt.deps.db, config)).toMatchObject({ fallbacks: [], fallbacksSource: 'settings' });
    });
  });
});
