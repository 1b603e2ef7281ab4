import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/core/config.js';
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

const withSearch = (c: Config): Config => ({ ...c, search: { ...c.search, embeddingModel: 'ollama/nomic-embed-text', batchSize: 8, concurrency: 2, intervalMs: 30 } });

const THREADS = [
  { title: 'A bridge for the VMs', question: 'How do I put my VMs on a network bridge?', answer: 'Create br0 as a bridge over eth0 and attach each VM to the bridge br0.' },
  { title: 'OSD shuffling after a new disk', question: 'The OSDs keep moving placement groups since I added a disk', answer: 'That is the cluster rebalancing onto the new OSD.' },
  { title: 'Restic retention', question: 'How should I rotate restic snapshots?', answer: 'Run forget with --keep-daily 7, then prune.' },
  { title: 'UPS self-test', question: 'The UPS logs a failed self-test at every boot', answer: 'Replace the battery pack.' },
  { title: 'Pi-hole upstreams', question: 'Which resolver should pihole forward to?', answer: 'Run unbound locally as the resolver.' },
  { title: 'Kitchen shelves', question: 'What wood should I use for kitchen shelves over the sink?', answer: 'Oak or maple, sealed against the steam.' },
  { title: 'Garden hose', question: 'My garden hose keeps kinking near the tap', answer: 'Fit a hose guard and uncoil it fully before use.' },
];

let rt: TestRuntime;
afterEach(async () => {
  await rt.shutdown();
});

async function world(): Promise<Map<string, number>> {
  rt = await startTestRuntime({ config: withSearch, fakes: { ollama: { embedder: conceptEmbedder(GROUPS), embeddingDimension: 32 } } });
  const { conversations, experiences } = rt.deps;
  const experience = await experiences.defaultExperience();
  const ids = new Map<string, number>();
  for (const [i, t] of THREADS.entries()) {
    const conversation = await conversations.create({ platform: 'test', channelId: 'dm-ada', threadId: `t${i}` }, experience.id, 'ada');
    await conversations.update(conversation.id, { title: t.title });
    await conversations.append(conversation.id, { role: 'user', content: t.question, authorId: 'ada', authorName: 'ada' });
    await conversations.append(conversation.id, { role: 'assistant', content: t.answer, model: 'openai/gpt-4o-mini' });
    ids.set(t.title, conversation.id);
  }
  await until(async () => {
    const status = await rt.deps.search!.indexer.status();
    return status.indexed === THREADS.length * 2 && status.queued === 0 ? status : null;
  });
  return ids;
}

async function ask(text: string): Promise<string> {
  const reply = new RecordingReply({ privateReplies: true });
  const [name, ...rest] = text.split(' ');
  await rt.engine.handle(inbound(text, { kind: 'command', command: { name: name!, args: rest.join(' ') }, channelId: 'dm-ada', isDirect: true }), reply);
  return reply.last().text;
}

describe('search by meaning has a floor', () => {
  it('should answer "bridge" with the one thread about bridges, not every nearest vector, and say it matched by keywords', async () => {
    const ids = await world();
    const result = await rt.deps.search!.search({ query: 'bridge', filter: {}, limit: 20 });
    expect(result.semantic).toBe('on');
    // both messages of the bridge thread contain the word: one hit for the conversation
    expect(result.hits.map((h) => h.conversationId)).toEqual([ids.get('A bridge for the VMs')]);
    expect(result.hits[0]!.matched).toContain('keywords');

    const text = await ask('search bridge');
    expect(text.match(/^\d+\. /gm)).toHaveLength(1);
    expect(text).toMatch(/^1\. \*\*A bridge for the VMs\*\* .* · matched keywords/m);
  });

  it('should keep a meaning-only hit that is close enough, and say it matched by meaning', async () => {
    const ids = await world();
    // "storage" is in no message: only the Ceph thread is about it
    const result = await rt.deps.search!.search({ query: 'storage', filter: {}, limit: 20 });
    expect(result.hits.map((h) => [h.conversationId, h.matched])).toEqual([[ids.get('OSD shuffling after a new disk'), ['meaning']]]);

    const text = await ask('search storage');
    expect(text.match(/^\d+\. /gm)).toHaveLength(1);
    expect(text).toMatch(/^1\. \*\*OSD shuffling after a new disk\*\* .* · matched by meaning$/m);
  });

  it('should rank a thread matched by keywords and meaning first, one hit per conversation', async () => {
    const ids = await world();
    const result = await rt.deps.search!.search({ query: 'rotate restic snapshots', filter: {}, limit: 20 });
    expect(result.hits[0]).toMatchObject({ conversationId: ids.get('Restic retention') });
    expect([...result.hits[0]!.matched].sort()).toEqual(['keywords', 'meaning']);
    expect(new Set(result.hits.map((h) => h.conversationId)).size).toBe(result.hits.length);
    expect(await ask('search rotate restic snapshots')).toMatch(/^1\. \*\*Restic retention\*\* .* · matched keywords and meaning$/m);
  });
});
