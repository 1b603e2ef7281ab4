import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/core/config.js';
import type { PlatformDirectory } from '../../src/core/search/directory.js';
import { conceptEmbedder } from '../fakes/providers/concepts.js';
import { inbound, RecordingReply } from '../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { until } from '../support/wait.js';

const GROUPS = [
  ['ceph', 'osd', 'rebalance', 'placement', 'pg', 'cluster', 'disk', 'storage'],
  ['backup', 'restic', 'snapshot', 'rotate', 'retention', 'prune'],
  ['ups', 'battery', 'power', 'outage'],
  ['dns', 'resolver', 'pihole', 'unbound'],
];
const DIMENSION = 32;

const withSearch = (model: string, batchSize = 4, concurrency = 2) => (c: Config): Config => ({
  ...c,
  utilityModel: 'anthropic/claude-haiku-4-5',
  search: { ...c.search, embeddingModel: model, batchSize, concurrency, intervalMs: 30 },
});

const runtimes: TestRuntime[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((rt) => rt.shutdown()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startTestRuntime>[0] = {}): Promise<TestRuntime> {
  const rt = await startTestRuntime({
    config: withSearch('ollama/nomic-embed-text'),
    fakes: { ollama: { embedder: conceptEmbedder(GROUPS), embeddingDimension: DIMENSION } },
    ...options,
  });
  runtimes.push(rt);
  return rt;
}

interface Seed {
  platform?: string;
  channel: string;
  thread?: string | null;
  experience?: string;
  author?: string;
  title: string;
  question: string;
  answer: string;
}

let threads = 0;

async function seed(rt: TestRuntime, s: Seed): Promise<{ conversationId: number; questionId: number; answerId: number }> {
  const { conversations, experiences } = rt.deps;
  const experience = s.experience ? (await experiences.get(s.experience))! : await experiences.defaultExperience();
  const conversation = await conversations.create({ platform: s.platform ?? 'test', channelId: s.channel, threadId: s.thread ?? `thread-${++threads}` }, experience.id, s.author ?? 'ada');
  await conversations.update(conversation.id, { title: s.title });
  const question = await conversations.append(conversation.id, { role: 'user', content: s.question, authorId: s.author ?? 'ada', authorName: s.author ?? 'ada' });
  const answer = await conversations.append(conversation.id, { role: 'assistant', content: s.answer, model: 'openai/gpt-4o-mini' });
  return { conversationId: conversation.id, questionId: question.id, answerId: answer.id };
}

function indexed(rt: TestRuntime, count: number) {
  return until(async () => {
    const status = await rt.deps.search!.indexer.status();
    return status.indexed === count && status.queued === 0 ? status : null;
  });
}

function embedTexts(server: { requests: Array<{ path: string; body: any; disconnected: boolean }> }, path: string, completedOnly = true): string[] {
  return server.requests
    .filter((r) => r.path === path && (!completedOnly || !r.disconnected))
    .flatMap((r) => (Array.isArray(r.body.input) ? r.body.input : [r.body.input]));
}

const CEPH = { channel: 'ops', title: 'OSD shuffling after a new disk', question: 'The OSDs keep moving placement groups since I added a disk', answer: 'That is the cluster rebalancing onto the new OSD; it settles once every PG is active+clean.' };
const BACKUPS = { channel: 'ops', title: 'Restic retention', question: 'How should I rotate restic snapshots?', answer: 'Run forget with --keep-daily 7 --keep-weekly 4, then prune.' };
const UPS = { channel: 'ops', title: 'UPS self-test', question: 'The UPS logs E4021 at every boot', answer: 'E4021 is a failed battery self-test: replace the battery pack.' };

describe('search over conversations', () => {
  it('finds a thread by meaning when no word matches, by an exact term the embedder ignores, and ranks a match by both first', async () => {
    const rt = await start();
    const ceph = await seed(rt, { ...CEPH, experience: 'homelab' });
    const backups = await seed(rt, { ...BACKUPS, experience: 'homelab' });
    const ups = await seed(rt, { ...UPS, experience: 'homelab' });
    await indexed(rt, 6);
    const homelab = (await rt.deps.experiences.get('homelab'))!;
    const search = (query: string) => rt.deps.search!.search({ query, filter: { experienceIds: [homelab.id] } });

    // "storage" appears in no message: only the vectors know it is about the Ceph thread
    const meaning = await search('storage');
    expect(meaning.semantic).toBe('on');
    expect(meaning.hits[0]).toMatchObject({ conversationId: ceph.conversationId, matched: ['meaning'], title: CEPH.title });

    // an error code means nothing to the embedder; FTS5 finds it
    const exact = await search('E4021');
    expect(exact.hits[0]).toMatchObject({ conversationId: ups.conversationId });
    expect(exact.hits[0]!.matched).toContain('keywords');
    expect(exact.hits[0]!.snippet).toContain('E4021');

    // "snapshots" matches the backups thread by keyword (stemmed) and by meaning: first, and by both
    const both = await search('pruning old snapshots');
    expect(both.hits[0]).toMatchObject({ conversationId: backups.conversationId });
    expect(both.hits[0]!.matched.sort()).toEqual(['keywords', 'meaning']);
    // the query was embedded and charged as embedding usage
    const usage = await rt.database.db.selectFrom('usage_events').select(['purpose', 'model', 'status']).where('purpose', '=', 'embedding').execute();
    expect(usage.length).toBeGreaterThanOrEqual(3 + 2); // 3 queries + at least 2 indexing batches
    expect(usage.every((u) => u.model === 'ollama/nomic-embed-text' && u.status === 'ok')).toBe(true);
  });

  it('keyword search works with no embedding model, and says why meaning was not used', async () => {
    const rt = await start({ config: withSearch(null as unknown as string) });
    const ups = await seed(rt, UPS);
    const result = await rt.deps.search!.search({ query: 'e4021', filter: {} });
    expect(result.hits.map((h) => h.conversationId)).toEqual([ups.conversationId]);
    expect(result.semantic).toBe('off');
    expect(rt.ollama.requests.filter((r) => r.path === '/api/embed')).toHaveLength(0);
  });

  it('deleting a conversation removes it from both indexes', async () => {
    const rt = await start();
    const ceph = await seed(rt, CEPH);
    await seed(rt, BACKUPS);
    await indexed(rt, 4);
    await rt.deps.conversations.delete(ceph.conversationId);
    expect((await rt.deps.search!.indexer.status()).indexed).toBe(2);
    const result = await rt.deps.search!.search({ query: 'osd rebalancing storage', filter: {} });
    expect(result.hits.map((h) => h.conversationId)).not.toContain(ceph.conversationId);
  });

  it('moves a conversation’s vectors when it changes Experience, without embedding them again', async () => {
    const rt = await start();
    const ceph = await seed(rt, { ...CEPH, experience: 'homelab' });
    await indexed(rt, 2);
    const embedCalls = rt.ollama.requests.filter((r) => r.path === '/api/embed').length;
    const homelab = (await rt.deps.experiences.get('homelab'))!;
    const general = (await rt.deps.experiences.get('general'))!;
    await rt.deps.conversations.update(ceph.conversationId, { experience_id: general.id });
    await until(async () => (await rt.deps.search!.indexer.status()).queued === 0);
    const inGeneral = await rt.deps.search!.search({ query: 'storage', filter: { experienceIds: [general.id] } });
    expect(inGeneral.hits.map((h) => [h.conversationId, h.matched])).toEqual([[ceph.conversationId, ['meaning']]]);
    expect((await rt.deps.search!.search({ query: 'storage', filter: { experienceIds: [homelab.id] } })).hits).toEqual([]);
    // the queries were embedded; the moved messages were not
    expect(rt.ollama.requests.filter((r) => r.path === '/api/embed').length).toBe(embedCalls + 2);
    expect((await rt.deps.search!.indexer.status()).indexed).toBe(2);
  });

  it('re-indexes every message with the new model when the embedding model changes', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-search-'));
    dirs.push(dir);
    const first = await start({ dir });
    await seed(first, CEPH);
    await seed(first, UPS);
    await indexed(first, 4);
    expect(await first.deps.search!.indexer.status()).toMatchObject({ model: 'ollama/nomic-embed-text', dimension: DIMENSION });
    await first.shutdown();
    runtimes.splice(runtimes.indexOf(first), 1);

    const second = await start({
      dir,
      config: withSearch('openai/text-embedding-3-small'),
      fakes: { openai: { embedder: conceptEmbedder(GROUPS), embeddingDimension: 16 } },
    });
    const status = await indexed(second, 4);
    expect(status).toMatchObject({ model: 'openai/text-embedding-3-small', dimension: 16 });
    expect(embedTexts(second.openai, '/v1/embeddings').sort()).toEqual([CEPH.question, CEPH.answer, UPS.question, UPS.answer].sort());
    expect(second.ollama.requests.filter((r) => r.path === '/api/embed')).toHaveLength(0);
    const result = await second.deps.search!.search({ query: 'storage', filter: {} });
    expect(result.semantic).toBe('on');
    expect(result.hits[0]!.title).toBe(CEPH.title);
  });

  it('resumes a backfill cut off mid-batch and never embeds a stored message twice', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-search-'));
    dirs.push(dir);
    // the index starts with no model: the messages wait, as in a database from before search
    const before = await start({ dir, config: withSearch(null as unknown as string) });
    const texts: string[] = [];
    for (let i = 0; i < 6; i++) {
      const s = { channel: `c${i}`, title: `t${i}`, question: `question number ${i} about dns`, answer: `answer number ${i} about backups` };
      await seed(before, s);
      texts.push(s.question, s.answer);
    }
    await before.shutdown();
    runtimes.splice(runtimes.indexOf(before), 1);

    // batches of 2, one at a time; the third request hangs until Threadloom goes away
    const first = await start({
      dir, config: withSearch('ollama/nomic-embed-text', 2, 1),
      prepare: ({ ollama }) => ollama.scriptFor('embed', {}, {}, { stallBeforeHeadersMs: Infinity }),
    });
    await until(() => first.ollama.requests.filter((r) => r.path === '/api/embed').length === 3);
    expect(await first.deps.search!.indexer.status()).toMatchObject({ indexed: 4, queued: 8 });
    await first.shutdown(); // cut off with a request in flight
    runtimes.splice(runtimes.indexOf(first), 1);
    await Promise.all(first.ollama.requests.map((r) => r.settled));
    const firstDone = embedTexts(first.ollama, '/api/embed');
    expect(firstDone).toHaveLength(4);

    const second = await start({ dir, config: withSearch('ollama/nomic-embed-text', 2, 1) });
    await indexed(second, 12);
    const secondDone = embedTexts(second.ollama, '/api/embed');
    // every message embedded exactly once across both runs: nothing stored was sent again
    expect([...firstDone, ...secondDone].sort()).toEqual([...texts].sort());
    expect(secondDone.filter((t) => firstDone.includes(t))).toEqual([]);
  });

  it('waits and retries when the embedding server fails, and keyword search goes on meanwhile', async () => {
    const rt = await start();
    // a 503 for each message: a pass may take the question before the answer is written (on
    // PostgreSQL it mostly does), and then the answer is a request of its own
    rt.ollama.scriptFor('embed', { status: 503 }, { status: 503 });
    await seed(rt, UPS);
    // both messages failed once
    await until(async () => {
      const status = await rt.deps.search!.indexer.status();
      return status.state === 'failing' && status.failing === 2;
    });
    expect(await rt.deps.search!.indexer.status()).toMatchObject({ indexed: 0, queued: 2, failing: 2 });
    expect((await rt.deps.search!.search({ query: 'E4021', filter: {} })).hits).toHaveLength(1);
    // the failed call is in the ledger, uncharged
    const failed = await rt.database.db.selectFrom('usage_events').selectAll().where('purpose', '=', 'embedding').where('status', '=', 'error').execute();
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0]).toMatchObject({ model: 'ollama/nomic-embed-text', tokens_in: 0, cost_usd: 0 });
    expect(failed[0]!.error).toContain('llama runner process has terminated'); // Ollama's own words for a 503
  });
});

describe('the search command', () => {
  /** ada reads #ops and her DM; bob reads #secret and his DM */
  const directory: PlatformDirectory = {
    async visibleChannels(userId, channelIds) {
      const readable: Record<string, string[]> = { ada: ['ops', 'dm-ada'], bob: ['secret', 'dm-bob', 'ops'] };
      return new Set(channelIds.filter((c) => readable[userId]?.includes(c)));
    },
    permalink: async (ref) => `https://chat.example/${ref.channelId}/${ref.platformMessageId ?? ''}`,
  };

  async function privacyWorld() {
    const rt = await start();
    rt.engine.directories.set('test', directory);
    await seed(rt, { ...CEPH, channel: 'ops', experience: 'homelab' });
    await seed(rt, { ...CEPH, title: 'Secret ceph plans', channel: 'secret', author: 'bob', experience: 'homelab' });
    await seed(rt, { ...CEPH, title: 'Bob DM about ceph', channel: 'dm-bob', author: 'bob', experience: 'homelab' });
    await seed(rt, { ...CEPH, title: 'General ceph chat', channel: 'ops', experience: 'general' });
    await seed(rt, { ...CEPH, title: 'Ceph on Slack', platform: 'slack', channel: 'ops', experience: 'homelab' });
    await indexed(rt, 10);
    return rt;
  }

  async function ask(rt: TestRuntime, text: string, overrides: Parameters<typeof inbound>[1], privately = true) {
    const reply = new RecordingReply({ privateReplies: privately });
    const [name, ...rest] = text.split(' ');
    await rt.engine.handle(inbound(text, { kind: 'command', command: { name: name!, args: rest.join(' ') }, ...overrides }), reply);
    return reply.last();
  }

  it('searches the current Experience, and with `all` every channel the user can read, never others’', async () => {
    const rt = await privacyWorld();
    await rt.deps.db.insertInto('bindings').values({ platform: 'test', channel_id: 'dm-ada', experience_id: (await rt.deps.experiences.get('homelab'))!.id }).execute();
    const scoped = await ask(rt, 'search ceph rebalancing', { channelId: 'dm-ada', isDirect: true });
    expect(scoped.private).toBe(true);
    expect(scoped.text).toContain(CEPH.title);
    expect(scoped.text).toContain('Homelab');
    expect(scoped.text).not.toContain('General ceph chat'); // another Experience
    expect(scoped.text).toMatch(/https:\/\/chat\.example\/ops\//);
    for (const hidden of ['Secret ceph plans', 'Bob DM about ceph', 'Ceph on Slack']) expect(scoped.text).not.toContain(hidden);

    const everywhere = await ask(rt, 'search all ceph rebalancing', { channelId: 'dm-ada', isDirect: true });
    expect(everywhere.text).toContain(CEPH.title);
    expect(everywhere.text).toContain('General ceph chat');
    for (const hidden of ['Secret ceph plans', 'Bob DM about ceph', 'Ceph on Slack']) expect(everywhere.text).not.toContain(hidden);

    const bob = await ask(rt, 'search all ceph', { channelId: 'dm-bob', isDirect: true, author: { id: 'bob', name: 'Bob', isBot: false } });
    expect(bob.text).toContain('Secret ceph plans');
    expect(bob.text).toContain('Bob DM about ceph');
  });

  it('in a channel where the answer is public, searches that channel only and says so', async () => {
    const rt = await privacyWorld();
    const answer = await ask(rt, 'search all ceph', { channelId: 'secret', isDirect: false, author: { id: 'bob', name: 'Bob', isBot: false } }, false);
    expect(answer.text).toContain('Secret ceph plans');
    expect(answer.text).not.toContain('Bob DM about ceph');
    expect(answer.text).toContain('Only this channel was searched');
  });

  it('without a directory for the platform, shows only conversations the user took part in', async () => {
    const rt = await privacyWorld();
    rt.engine.directories.delete('test');
    const answer = await ask(rt, 'search all ceph', { channelId: 'dm-ada', isDirect: true });
    expect(answer.text).toContain(CEPH.title);
    for (const hidden of ['Secret ceph plans', 'Bob DM about ceph']) expect(answer.text).not.toContain(hidden);
  });

  it('answers an empty query with its usage and a miss with a plain sentence', async () => {
    const rt = await start();
    expect((await ask(rt, 'search', {})).text).toContain('Usage: search [all]');
    expect((await ask(rt, 'search quantum entanglement', {})).text).toContain('Nothing found for “quantum entanglement”');
  });
});
