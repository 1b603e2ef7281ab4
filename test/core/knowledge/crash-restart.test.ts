import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { databaseFile, openDatabase } from '../../../src/core/db/open.js';
import { startFakeOpenAI } from '../../fakes/providers.js';
import { spawnThreadloom, type ThreadloomProcess } from '../../support/process.js';
import { until } from '../../support/wait.js';
import { makeLargePdf } from './files.js';

/**
 * Threadloom killed (SIGKILL) in the middle of adding knowledge, then started again on the same
 * data dir: a text whose chunks were being embedded, and a 50 MB PDF being read.
 */

const PASSWORD = 'a long enough password';
const EMBEDDING_MODEL = 'openai/text-embedding-3-small';
const MEGABYTE = 1024 * 1024;
/** two starts through tsx (each compiles the tree), two 50 MB uploads and their reading, on a loaded machine */
const PATIENT = 120_000;
/** a wait for something the process does in a few seconds at most */
const WAIT = 45_000;

const started: ThreadloomProcess[] = [];
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const p of started.splice(0)) p.child.kill('SIGKILL');
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A signed-in admin over HTTP, as a browser would be. */
async function signIn(baseUrl: string): Promise<{ cookie: string; csrf: string }> {
  const cookiesOf = (response: Response): string[] => response.headers.getSetCookie().map((c) => c.split(';')[0]!);
  const form = await fetch(`${baseUrl}/login`);
  const loginToken = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const login = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookiesOf(form).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: loginToken, password: PASSWORD }),
  });
  const cookie = cookiesOf(login).join('; ');
  const page = await (await fetch(`${baseUrl}/knowledge/general`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error(`not signed in: ${page.slice(0, 300)}`);
  return { cookie, csrf };
}

describe('knowledge after a crash', () => {
  it('should embed every chunk of a text killed mid-embedding exactly once after a restart, and mark a PDF killed mid-read failed, to be added again', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'threadloom-knowledge-crash-'));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const fake = await startFakeOpenAI();
    cleanup.push(() => fake.close());
    const pdf = await makeLargePdf(
      [{ heading: 'Grinder', paragraphs: ['The burr carrier lifts out after the two brass thumbscrews are loosened.'] }],
      50 * MEGABYTE,
    );

    const start = async (): Promise<{ process: ThreadloomProcess; url: string }> => {
      const p = spawnThreadloom('src/main.ts', [], {
        THREADLOOM_DATA_DIR: dataDir, OLLAMA_HOST: 'http://127.0.0.1:9', OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-test',
        THREADLOOM_EMBEDDING_MODEL: EMBEDDING_MODEL, THREADLOOM_ADMIN_HOST: '127.0.0.1', THREADLOOM_ADMIN_PORT: '0', THREADLOOM_ADMIN_PASSWORD: PASSWORD,
      });
      started.push(p);
      await p.waitFor(/ready in \d+ ms/);
      return { process: p, url: /admin web listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stderr())![1]! };
    };
    const upload = (url: string, session: { cookie: string; csrf: string }): Promise<Response> => {
      const form = new FormData();
      form.append('files', new Blob([pdf], { type: 'application/pdf' }), 'grinder-manual.pdf');
      return fetch(`${url}/knowledge/general/upload`, { method: 'POST', headers: { cookie: session.cookie, 'x-csrf-token': session.csrf }, body: form });
    };
    // the test reads the process's database beside it, as another reader would
    let sqlite: Database.Database | undefined;
    const db = (): Database.Database => (sqlite ??= new Database(databaseFile(dataDir), { readonly: true }));
    cleanup.push(() => void sqlite?.close());
    const documents = (): Array<{ file_name: string; status: string; error: string | null; chunk_count: number }> =>
      db().prepare('SELECT file_name, status, error, chunk_count FROM knowledge_documents ORDER BY id').all() as never;
    const count = (query: string): number => (db().prepare(query).get() as { n: number }).n;
    const embedRequests = () => fake.requests.filter((r) => r.path === '/v1/embeddings');

    // the first embedding request is answered; the second hangs until the process dies
    fake.scriptFor('embed', {}, { stallBeforeHeadersMs: Infinity });
    const first = await start();
    const session = await signIn(first.url);
    const paragraphs = Array.from({ length: 60 }, (_, i) => `Section ${i + 1}. ${`The espresso machine part number ${i * 7 + 3} is checked weekly for wear and limescale. `.repeat(18)}`);
    const pasted = await fetch(`${first.url}/knowledge/general/text`, {
      method: 'POST',
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ title: 'Maintenance log', text: paragraphs.join('\n\n') }),
    });
    expect(pasted.status).toBe(200);
    const chunks = count('SELECT count(*) AS n FROM knowledge_chunks');
    // more than one request's worth (32 a batch), so a crash can fall between two of them
    expect(chunks).toBeGreaterThan(32);
    await until(() => embedRequests().length === 2 && count("SELECT count(*) AS n FROM usage_events WHERE purpose = 'knowledge'") === 1, WAIT);

    const uploading = upload(first.url, session).catch(() => null);
    // the PDF is recorded before it is read; reading 50 MB takes seconds
    await until(() => documents().some((d) => d.file_name === 'grinder-manual.pdf'), WAIT);
    first.process.child.kill('SIGKILL');
    await first.process.exited;
    await uploading;

    const chunksEmbeddedBefore = chunks - count('SELECT count(*) AS n FROM knowledge_queue');
    expect(documents().map((d) => [d.file_name, d.status])).toEqual([['Maintenance log', 'indexing'], ['grinder-manual.pdf', 'queued']]);
    expect(chunksEmbeddedBefore).toBeGreaterThan(0);
    expect(chunksEmbeddedBefore).toBeLessThan(chunks);
    expect(embedRequests()[1]!.disconnected).toBe(true);

    const second = await start();
    await until(() => count('SELECT count(*) AS n FROM knowledge_queue') === 0 && documents()[0]!.status === 'indexed', WAIT);
    expect(documents()).toMatchObject([
      { file_name: 'Maintenance log', status: 'indexed', error: null, chunk_count: chunks },
      { file_name: 'grinder-manual.pdf', status: 'failed', error: 'Reading it was interrupted when Threadloom stopped; add the file again.' },
    ]);
    // every chunk's text was answered once by the model: none before the crash asked again
    const answered = embedRequests().filter((r) => !r.disconnected).flatMap((r) => r.body.input as string[]);
    const chunkTexts = (db().prepare('SELECT text FROM knowledge_chunks').all() as Array<{ text: string }>).map((c) => c.text);
    expect(answered.slice().sort()).toEqual(chunkTexts.slice().sort());
    expect(count("SELECT count(*) AS n FROM usage_events WHERE purpose = 'knowledge' AND status = 'ok'")).toBe(embedRequests().filter((r) => !r.disconnected).length);

    // the page says what happened and what to do; doing it works
    const again = await signIn(second.url);
    const page = await (await fetch(`${second.url}/knowledge/general`, { headers: { cookie: again.cookie } })).text();
    expect(page).toContain('Reading it was interrupted when Threadloom stopped; add the file again.');
    const readded = await (await upload(second.url, again)).text();
    expect(readded).toMatch(/grinder-manual\.pdf<\/strong>: <span class="state state-connected">added<\/span> 2 pages/);
    await until(() => documents().some((d) => d.file_name === 'grinder-manual.pdf' && d.status === 'indexed'), WAIT);
    expect(documents().map((d) => [d.file_name, d.status])).toEqual([['Maintenance log', 'indexed'], ['grinder-manual.pdf', 'indexed']]);

    second.process.child.kill('SIGTERM');
    expect(await second.process.exited).toBe(0);
    started.splice(0);
    const database = openDatabase(databaseFile(dataDir));
    try {
      const vectors = database.sqlite.prepare('SELECT count(*) AS n, count(DISTINCT chunk_id) AS distinct_chunks FROM knowledge_vec').get();
      expect(vectors).toEqual({ n: chunks + documents()[1]!.chunk_count, distinct_chunks: chunks + documents()[1]!.chunk_count });
    } finally {
      await database.close();
    }
  }, PATIENT);
});
