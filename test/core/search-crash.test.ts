import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/core/config.js';
import { CLAIM_MS } from '../../src/core/search/pgvector.js';
import { startFakeOllama } from '../fakes/providers.js';
import { conceptEmbedder } from '../fakes/providers/concepts.js';
import { startBotProcess, type BotProcess } from '../matrix/bot-process.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { until } from '../support/wait.js';

const GROUPS = [['dns', 'resolver'], ['backup', 'restic']];
const embedTexts = (requests: Array<{ path: string; body: any; disconnected: boolean }>): string[] =>
  requests.filter((r) => r.path === '/api/embed' && !r.disconnected).flatMap((r) => r.body.input as string[]);

const search = (model: string | null) => (c: Config): Config => ({ ...c, search: { ...c.search, embeddingModel: model, batchSize: 2, concurrency: 1, intervalMs: 50 } });

let cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

describe('the search backfill after a crash', () => {
  it('resumes after `kill -9` mid-batch, embedding each message exactly once over both runs', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-search-crash-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));

    // history written before any embedding model was configured
    const before = await startTestRuntime({ dir, config: search(null) });
    const texts: string[] = [];
    const experience = await before.deps.experiences.defaultExperience();
    for (let i = 0; i < 6; i++) {
      const conversation = await before.deps.conversations.create({ platform: 'test', channelId: `c${i}`, threadId: null }, experience.id, 'ada');
      for (const content of [`question ${i} about the dns resolver`, `answer ${i}: check the restic backup`]) {
        await before.deps.conversations.append(conversation.id, { role: content.startsWith('q') ? 'user' : 'assistant', content, authorId: 'ada' });
        texts.push(content);
      }
    }
    await before.shutdown();

    // Threadloom as a real process; its third embedding request never gets an answer
    const ollama = await startFakeOllama({ embedder: conceptEmbedder(GROUPS) });
    cleanup.push(() => ollama.close());
    ollama.scriptFor('embed', {}, {}, { stallBeforeHeadersMs: Infinity });
    const database = before.deps.config.database.url;
    const configFile = path.join(dir, 'threadloom.config.yaml');
    writeFileSync(configFile, 'search: { batchSize: 2, concurrency: 1, intervalMs: 50 }\n');
    const bot: BotProcess = startBotProcess({
      THREADLOOM_CONFIG: configFile,
      THREADLOOM_DATA_DIR: dir,
      THREADLOOM_DEFAULT_MODEL: 'ollama/llama3.2',
      THREADLOOM_EMBEDDING_MODEL: 'ollama/nomic-embed-text',
      OLLAMA_HOST: ollama.url,
      THREADLOOM_ADMIN_PORT: '0',
      THREADLOOM_ADMIN_PASSWORD: 'a password for this test',
      // on PostgreSQL the runtimes' database, which the process would not find in the data dir
      ...(database ? { THREADLOOM_DATABASE_URL: database } : {}),
    });
    cleanup.push(() => bot.stop('SIGKILL'));
    await until(() => ollama.requests.filter((r) => r.path === '/api/embed').length === 3, 60_000).catch((err) => {
      throw new Error(`${err}\nrequests: ${ollama.requests.map((r) => r.path).join(', ')}\n${bot.output().slice(-3000)}`);
    });
    expect(await bot.stop('SIGKILL')).toBeNull(); // killed: no exit code
    await Promise.all(ollama.requests.map((r) => r.settled));
    const firstRun = embedTexts(ollama.requests);
    expect(firstRun).toHaveLength(4);

    // on PostgreSQL another instance may still be embedding the rows the killed process claimed, so
    // they wait for its claim to run out: the restart looks from a clock past that
    const afterClaims = database ? { now: () => new Date(Date.now() + CLAIM_MS) } : {};
    const after: TestRuntime = await startTestRuntime({ dir, config: search('ollama/nomic-embed-text'), fakes: { ollama: { embedder: conceptEmbedder(GROUPS) } }, ...afterClaims });
    cleanup.push(() => after.shutdown());
    await until(async () => {
      const status = await after.deps.search!.indexer.status();
      return status.indexed === 12 && status.queued === 0;
    });
    const secondRun = embedTexts(after.ollama.requests);
    expect(secondRun.filter((t) => firstRun.includes(t))).toEqual([]);
    expect([...firstRun, ...secondRun].sort()).toEqual([...texts].sort());
  });
});
