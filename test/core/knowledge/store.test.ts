import { afterEach, describe, expect, it } from 'vitest';
import { insertDocument, replaceChunks } from '../../../src/core/knowledge/repository.js';
import { openKnowledgeIndex } from '../../../src/core/knowledge/open-index.js';
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

/** A document of `texts` chunks in an Experience, written as the indexer writes them; its chunk ids. */
async function documentOf(experienceId: number, name: string, texts: readonly string[]): Promise<number[]> {
  return world.rt.deps.db.transaction().execute(async (trx) => {
    const row = await insertDocument(trx, {
      experience_id: experienceId, title: name, file_name: `${name}.md`, format: 'markdown', mime_type: 'text/markdown', size_bytes: 0,
      page_count: null, source: 'upload', source_url: null, added_by: 'test:ada', status: 'indexed', error: null, content_hash: name,
      text: null, blocks: null, chunk_count: texts.length, indexed_at: new Date().toISOString(),
    });
    await replaceChunks(trx, row.id, texts.map((text, ordinal) => ({ ordinal, text, pageStart: null, pageEnd: null, headings: [], tokens: 10 })));
    return (await trx.selectFrom('knowledge_chunks').select('id').where('document_id', '=', row.id).orderBy('ordinal').execute()).map((c) => c.id);
  });
}

describe(KnowledgeStore.name, () => {
  it('should find a chunk by its words as soon as it is added, with nothing embedded without a model', async () => {
    world = await knowledgeWorld({ embedding: false });
    const doc = await world.knowledge.add(world.homelab, file('manual.txt', MANUAL), 'test:ada', 'upload');
    expect(doc).toMatchObject({ status: 'indexed', chunkCount: 2, pageCount: 4 });
    const store = openKnowledgeIndex(world.rt.database);
    expect(await store.keyword(world.homelab, 'ups battery', 5)).toHaveLength(1);
    // keywords only: the chunks wait in the queue for a model that may come later
    expect(await world.count('knowledge_queue')).toBe(2);
    expect(await world.knowledge.status()).toMatchObject({ state: 'off', chunks: 2, embedded: 0, documents: { indexed: 1 } });
    expect(world.embedded()).toEqual([]);
  });

  it("should find an Experience's own chunk when another Experience has many that match the question better", async () => {
    world = await knowledgeWorld({ embedding: false });
    // the kitchen's thirty are short and say the words twice (bm25 ranks them first); its other
    // chunks keep the words rare enough to weigh
    await documentOf(world.kitchen, 'fridge', Array.from({ length: 30 }, () => 'UPS battery, UPS battery.'));
    await documentOf(world.kitchen, 'shopping', Array.from({ length: 60 }, (_, i) => `Milk, eggs and ${i} apples.`));
    const [mine] = await documentOf(world.homelab, 'rack', ['The UPS battery keeps the rack up for 12 minutes during an outage.']);
    const store = openKnowledgeIndex(world.rt.database);
    expect((await store.keyword(world.homelab, 'what about the battery?', 5)).map((c) => c.chunkId)).toEqual([mine]);
    expect(await store.keyword(world.kitchen, 'what about the battery?', 5)).toHaveLength(5);
  });

  it('should find the chunk with the rarer words of a question whose other words are in thousands of chunks', async () => {
    world = await knowledgeWorld({ embedding: false });
    await documentOf(world.homelab, 'listing', Array.from({ length: 2_100 }, (_, i) => `Line ${i} of the list names one file.`));
    const [verifier] = await documentOf(world.homelab, 'checks', ['The verifier checks a file against its checksum.']);
    const store = openKnowledgeIndex(world.rt.database);
    // no chunk has all three words; the one with "verifier" and "file" has two of them, and chunks
    // with only the two words nearly every chunk has are no answer
    expect((await store.keyword(world.homelab, 'which verifier checks a file list?', 5)).map((c) => c.chunkId)).toEqual([verifier]);
  });

  it('should delete a document with its chunks, keyword index rows, queue entries and vectors', async () => {
    world = await knowledgeWorld({ embedding: true });
    const doc = await world.knowledge.add(world.homelab, file('manual.txt', MANUAL), 'test:ada', 'upload');
    const other = await world.knowledge.addText(world.homelab, 'Backups', 'Restic snapshots are pruned weekly.', 'test:ada');
    await world.drained();
    expect(await world.count('knowledge_vec')).toBe(3);
    const sqlite = world.rt.database.kind === 'sqlite'; // FTS5's own rows; PostgreSQL's GIN index has none to count
    if (sqlite) expect(await world.count('knowledge_fts_docsize')).toBe(3);
    // one more, still queued, to see queue rows go too
    await world.knowledge.indexer.stop();
    const queued = await world.knowledge.addText(world.homelab, 'Queued', 'A note still waiting for its vector.\n\nAnd a second paragraph.', 'test:ada');
    expect(await world.count('knowledge_queue')).toBe(2);

    expect(await world.knowledge.remove(doc.id)).toBe(true);
    expect(await world.knowledge.remove(queued.id)).toBe(true);
    expect(await world.count('knowledge_documents')).toBe(1);
    expect(await world.count('knowledge_chunks')).toBe(1);
    if (sqlite) expect(await world.count('knowledge_fts_docsize')).toBe(1);
    expect(await world.count('knowledge_queue')).toBe(0);
    expect(await world.count('knowledge_vec')).toBe(1);
    expect(await world.knowledge.retrieve(world.homelab, 'ups battery outage', { maxTokens: 1000 })).toEqual([]);
    expect((await world.knowledge.list(world.homelab)).map((d) => d.id)).toEqual([other.id]);
  });
});
