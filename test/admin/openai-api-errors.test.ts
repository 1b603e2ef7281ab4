import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { buildAdminApp } from '../../src/admin/app.js';
import { adminContext } from '../../src/admin/context.js';
import { createApiToken } from '../../src/core/api-tokens.js';
import { requireSqlite } from '../../src/core/db/open.js';
import { configSecrets, loadConfig, type Config } from '../../src/core/config.js';
import { createLogger } from '../../src/core/log.js';
import { startRuntime, type Runtime } from '../../src/core/runtime.js';
import { startFakeAnthropic, startFakeOllama, startFakeOpenAI, type FakeProviderServer } from '../fakes/providers.js';
import { TEST_POSTGRES_URL, freshPostgresDatabase, sqliteOnly } from '../support/postgres.js';

// /v1 failures through the real app on 127.0.0.1, the real SDKs and fake model servers, with the
// production logger (JSON, the configured secrets) writing into `lines`.

const OPENAI_KEY = 'sk-test-SECRET-9f8e7d6c5b4a3210';

interface Api {
  rt: Runtime;
  openai: FakeProviderServer;
  app: ReturnType<typeof buildAdminApp>;
  base: string;
  token: string;
  client: OpenAI;
  lines: string[];
  close(): Promise<void>;
}

let api: Api;

async function startApi(change: (c: Config) => Config = (c) => c): Promise<Api> {
  const [openai, anthropic, ollama] = await Promise.all([startFakeOpenAI(), startFakeAnthropic(), startFakeOllama()]);
  const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-v1-'));
  const server = TEST_POSTGRES_URL ? await freshPostgresDatabase(TEST_POSTGRES_URL) : null;
  const loaded = loadConfig({ THREADLOOM_DATA_DIR: dir, THREADLOOM_DEFAULT_MODEL: 'openai/gpt-4o-mini', OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: openai.url, ANTHROPIC_API_KEY: 'ak-test-not-real', ANTHROPIC_BASE_URL: anthropic.url, OLLAMA_HOST: ollama.url, ...(server ? { THREADLOOM_DATABASE_URL: server.url } : {}) });
  const config = change({ ...loaded, routing: { ...loaded.routing, retryBaseDelayMs: 5, firstTokenTimeoutMs: 3_000, totalTimeoutMs: 10_000 } });
  const lines: string[] = [];
  const rt = await startRuntime(config, { log: createLogger({ format: 'json', secrets: configSecrets(config, {}), write: (line) => lines.push(line) }) });
  const app = buildAdminApp(adminContext(rt, { password: 'correct horse battery staple' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1`;
  const { token } = await createApiToken(rt.deps.db, 'client');
  return {
    rt, openai, app, base, token, lines,
    client: new OpenAI({ baseURL: base, apiKey: token, maxRetries: 0 }),
    close: async () => {
      await app.close();
      await rt.close();
      await Promise.all([openai.close(), anthropic.close(), ollama.close()]);
      await server?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

afterEach(async () => {
  await api?.close();
});

const ask = (content: string) => ({ model: 'experience/general', messages: [{ role: 'user' as const, content }] });

/** the whole streamed body, as bytes arrived */
async function streamed(body: unknown): Promise<string> {
  const response = await fetch(`${api.base}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return response.text();
}

type ApiFailure = InstanceType<typeof OpenAI.APIError>;

/** the SDK's error for a request that must fail */
async function failure(request: Promise<unknown>): Promise<ApiFailure> {
  try {
    await request;
  } catch (err) {
    expect(err).toBeInstanceOf(OpenAI.APIError);
    return err as ApiFailure;
  }
  throw new Error('the request was expected to fail');
}

const lastEvent = (text: string) => JSON.parse(text.trim().split('\n\n').filter((e) => e !== 'data: [DONE]').at(-1)!.slice('data: '.length)) as { error?: Record<string, unknown> };

/** A trigger that fails every insert into messages as a broken disk would, or its removal. */
async function breakDisk(rt: Runtime, broken: boolean): Promise<void> {
  if (rt.database.kind === 'sqlite') {
    rt.database.sqlite.exec(broken ? "CREATE TEMP TRIGGER broken_disk BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END" : 'DROP TRIGGER broken_disk');
  } else if (broken) {
    await sql`CREATE FUNCTION broken_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk I/O error'; END $$`.execute(rt.deps.db);
    await sql`CREATE TRIGGER broken_disk BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION broken_disk()`.execute(rt.deps.db);
  } else {
    await sql`DROP TRIGGER broken_disk ON messages`.execute(rt.deps.db);
  }
}

describe('OpenAI-compatible API failures', () => {
  it('never hands out or stores the provider key a provider echoes in its 401, streamed or not', async () => {
    api = await startApi();
    const echo = { status: 401, errorMessage: `Incorrect API key provided: Bearer ${OPENAI_KEY}. Header was {"authorization":"Bearer ${OPENAI_KEY}"}` };
    api.openai.script(...Array.from({ length: 8 }, () => echo));

    const plain = await failure(api.client.chat.completions.create(ask('hello?')));
    expect(plain.status).toBe(502);
    expect(plain.message).toContain('the provider refused our credentials');
    const stream = await streamed({ ...ask('hello again?'), stream: true });
    expect(lastEvent(stream).error).toMatchObject({ type: 'api_error', code: 'upstream_error' });
    expect(String(lastEvent(stream).error!.message)).toContain('the provider refused our credentials');

    // the echo was real: the SDK sent the configured key
    expect(api.openai.chatRequests()[0]!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    const db = api.rt.deps.db;
    const stored = await db.selectFrom('messages').select('error').where('role', '=', 'assistant').orderBy('id').execute();
    const usage = await db.selectFrom('usage_events').select('error').where('error', 'is not', null).execute();
    expect(stored).toHaveLength(2);
    expect(stored[0]!.error).toContain('Incorrect API key provided');
    expect(usage.length).toBeGreaterThanOrEqual(2);
    expect(api.lines.join('')).toContain('title generation failed');
    for (const text of [plain.message, stream, JSON.stringify(stored), JSON.stringify(usage), api.lines.join('')]) {
      expect(text).not.toContain('SECRET');
    }
  });

  it('keeps a configured key that looks like no known secret out of what is stored, answered and logged', async () => {
    const key = 'homelab-proxy-passphrase-7c1d';
    api = await startApi((c) => ({ ...c, providers: { ...c.providers, openai: { ...c.providers.openai!, apiKey: key } as Config['providers'][string] } }));
    api.openai.script(...Array.from({ length: 4 }, () => ({ status: 401, errorMessage: `key ${key} is not valid here` })));
    const failed = await failure(api.client.chat.completions.create(ask('hello?')));
    const db = api.rt.deps.db;
    const stored = JSON.stringify([await db.selectFrom('messages').select('error').where('role', '=', 'assistant').execute(), await db.selectFrom('usage_events').select('error').execute()]);
    expect(stored).toContain('is not valid here');
    for (const text of [failed.message, stored, api.lines.join('')]) expect(text).not.toContain(key);
  });

  it('answers an internal failure 500 server_error, streamed or not, and keeps 429 for a real refusal', async () => {
    api = await startApi((c) => ({ ...c, limits: { ...c.limits, userTurnsPerMinute: 2 } }));
    // the disk refuses the turn's first write
    await breakDisk(api.rt, true);
    const plain = await failure(api.client.chat.completions.create(ask('hello?')));
    expect(plain.status).toBe(500);
    expect(plain.error).toMatchObject({ type: 'server_error', code: 'internal_error' });
    expect(plain.message).not.toContain('disk I/O');
    expect(lastEvent(await streamed({ ...ask('and now?'), stream: true })).error).toMatchObject({ type: 'server_error', code: 'internal_error' });

    await breakDisk(api.rt, false);
    const refused = await failure(api.client.chat.completions.create(ask('third?')));
    expect(refused.status).toBe(429);
    expect(refused.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limited' });
    expect(refused.message).toContain('faster than 2 per minute');
  });

  const post = (payload: string | Buffer, contentType = 'application/json') =>
    fetch(`${api.base}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${api.token}`, 'content-type': contentType }, body: payload });

  it('answers bodies Fastify refuses and unknown paths in OpenAI\'s shape', async () => {
    api = await startApi();
    const cases: Array<[string, () => Promise<Response>, number]> = [
      ['malformed JSON', () => post('{"model": "experience/general", "messages": ['), 400],
      ['an empty body', () => post(''), 400],
      ['a 10 MB body', () => post(Buffer.alloc(10 * 1024 * 1024, 'a')), 413],
      ['a body of a type we do not read', () => post('<model/>', 'application/xml'), 415],
      ['an unknown path', () => fetch(`${api.base}/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${api.token}` } }), 404],
      ['an unknown path by GET', () => fetch(`${api.base}/nothing/here`), 404],
    ];
    for (const [name, send, status] of cases) {
      const response = await send();
      expect(response.status, name).toBe(status);
      expect(response.headers.get('content-type'), name).toContain('application/json');
      const body = (await response.json()) as { error: Record<string, unknown> };
      expect(body.error, name).toMatchObject({ type: 'invalid_request_error', param: null });
      expect(Object.keys(body.error).sort(), name).toEqual(['code', 'message', 'param', 'type']);
    }
  });

  sqliteOnly('fills the SQLite file up to max_page_count').it('answers a full disk in OpenAI\'s shape', async () => {
    api = await startApi();
    const history = (size: number) => JSON.stringify({ model: 'experience/general', messages: [{ role: 'user', content: 'x'.repeat(size) }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'go on' }] });
    const pages = requireSqlite(api.rt.database, 'this test').sqlite.pragma('page_count', { simple: true }) as number;
    requireSqlite(api.rt.database, 'this test').sqlite.pragma(`max_page_count = ${pages}`);
    const full = await post(history(400_000));
    expect(full.status).toBe(500);
    expect(await full.json()).toMatchObject({ error: { type: 'server_error', code: 'internal_error', param: null } });
    expect(api.lines.join('')).toContain('database or disk is full');
  });

  it('gives up on a turn still queued for a busy provider at the first-token timeout, with the chat\'s line, and never sends it', async () => {
    api = await startApi((c) => ({
      ...c,
      utilityModel: 'anthropic/claude-haiku-4-5',
      providers: { ...c.providers, openai: { ...c.providers.openai!, maxConcurrent: 1 } as Config['providers'][string] },
      routing: { ...c.routing, firstTokenTimeoutMs: 1_000, totalTimeoutMs: 120_000 },
    }));
    // the first answer starts, then holds the only slot until its client leaves
    api.openai.script({ answer: 'a long answer that stalls', chunkSize: 4, stallAfterChunks: 1 });
    const leave = new AbortController();
    const holder = await api.client.chat.completions.create({ ...ask('tell me everything'), stream: true }, { signal: leave.signal });
    const chunks = holder[Symbol.asyncIterator]();
    while (!(await chunks.next()).value?.choices[0]?.delta?.content);

    const queued = await failure(api.client.chat.completions.create(ask('a quick one?')));
    expect(queued.status).toBe(502);
    expect(queued.message).toContain('the model took too long to answer');
    leave.abort();
    await api.rt.engine.turns.drain(60_000);
    expect(api.openai.chatRequests()).toHaveLength(1);
  });

  it('takes the bearer scheme in any case (RFC 9110)', async () => {
    api = await startApi();
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      const response = await fetch(`${api.base}/models`, { headers: { authorization: `${scheme} ${api.token}` } });
      expect(response.status, scheme).toBe(200);
    }
    expect((await fetch(`${api.base}/models`, { headers: { authorization: `Basic ${api.token}` } })).status).toBe(401);
  });
});
