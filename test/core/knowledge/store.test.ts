import { afterEach, describe, expect, it } from 'vitest';
import { KnowledgeStore } from '../../../src/core/knowledge/store.js';
import { file, knowledgeWorld, type KnowledgeWorld } from './world.js';

let world: KnowledgeWorld;
afterEach(async () => {
  await world?.close();
});

const MANUAL = `# Network

[page 3]

Put the NAS on VLAN 20 by tagging its switch port as a trunk.

# Power

[page 4]

The UPS battery keeps the rack up for 12 minutes during an outage.`;

describe(KnowledgeStore.name, () => {
  it('should find a chunk by its words as soon as it is added, with nothing embedded without a model', async () => {
    world = await knowledgeWorld({ embedding: false });
    const doc = await world.knowledge.add(world.homelab, file('manual.txt', MANUAL), 'test:ada', 'upload');
    expect(doc).toMatchObject({ status: 'indexed', chunkCount: 2, pageCount: 4 });
    const store = new KnowledgeStore(world.rt.database.sqlite);
    expect(store.keyword(world.homelab, 'ups battery', 5)).toHaveLength(1);
    // keywords only: the chunks wait in the queue for a model that may come later
    expect(world.count('knowledge_queue')).toBe(2);
    expect(world.knowledge.status()).toMatchObject({ state: 'off', chunks: 2, embedded: 0, documents: { indexed: 1 } });
    expect(world.embedded()).toEqual([]);
  });

  it('should delete a document with its chunks, keyword index rows, queue entries and vectors', async () => {
    world = await knowledgeWorld({ embedding: true });
    const doc = await world.knowledge.add(world.homelab, file('manual.txt', MANUAL), 'test:ada', 'upload');
    const other = await world.knowledge.addText(world.homelab, 'Backups', 'Restic snapshots are pruned weekly.', 'test:ada');
    await world.drained();
    expect(world.count('knowledge_vec')).toBe(3);
    expect(world.count('knowledge_fts_docsize')).toBe(3);
    // one more, still queued, to see queue rows go too
    await world.knowledge.indexer.stop();
    const queued = await world.knowledge.addText(world.homelab, 'Queued', 'A note still waiting for its vector.\n\nAnd a second paragraph.', 'test:ada');
    expect(world.count('knowledge_queue')).toBe(2);

    expect(await world.knowledge.remove(doc.id)).toBe(true);
    expect(await world.knowledge.remove(queued.id)).toBe(true);
    expect(world.count('knowledge_documents')).toBe(1);
    expect(world.count('knowledge_chunks')).toBe(1);
    expect(world.count('knowledge_fts_docsize')).toBe(1);
    expect(world.count('knowledge_queue')).toBe(0);
    expect(world.count('knowledge_vec')).toBe(1);
    expect(await world.knowledge.retrieve(world.homelab, 'ups battery outage', { maxTokens: 1000 })).toEqual([]);
    expect((await world.knowledge.list(world.homelab)).map((d) => d.id)).toEqual([other.id]);
  });
});
