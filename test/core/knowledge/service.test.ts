import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadloomError } from '../../../src/core/errors.js';
import { createKnowledge } from '../../../src/core/knowledge/create.js';
import { KnowledgeService } from '../../../src/core/knowledge/service.js';
import { until } from '../../support/wait.js';
import { file, knowledgeWorld, readFake, type KnowledgeWorld } from './world.js';

let world: KnowledgeWorld;
/** data dirs a test keeps across a restart */
const dirs: string[] = [];
afterEach(async () => {
  await world?.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const GUIDE = `# Install

[page 1]

Download the image and flash it.

# Network

[page 2]

Set a static address on VLAN 20.`;

describe(KnowledgeService.name, () => {
  it('should be the runtime\'s knowledge and the turns\' deps.knowledge', async () => {
    world = await knowledgeWorld({ embedding: false });
    expect(world.rt.knowledge).toBeInstanceOf(KnowledgeService);
    expect(world.rt.deps.knowledge).toBe(world.rt.knowledge);
  });

  describe('add', () => {
    it('should refuse the same file twice in one Experience, naming the document it already is, and take it in another', async () => {
      world = await knowledgeWorld({ embedding: false });
      const first = await world.knowledge.add(world.homelab, file('guide.md', GUIDE), 'test:ada');
      const again = world.knowledge.add(world.homelab, file('copy of guide.md', GUIDE), 'test:bo');
      await expect(again).rejects.toBeInstanceOf(ThreadloomError);
      await expect(again).rejects.toMatchObject({ userMessage: expect.stringContaining(`"guide" (document ${first.id}`) });
      expect(await world.knowledge.list(world.homelab)).toHaveLength(1);
      await expect(world.knowledge.add(world.kitchen, file('guide.md', GUIDE), 'test:bo')).resolves.toMatchObject({ experienceId: world.kitchen });
    });

    it('should keep a file that cannot be read as failed, with the reason, and throw the reason for the user', async () => {
      world = await knowledgeWorld({ embedding: true });
      const added = world.knowledge.add(world.homelab, file('scan.broken', 'garbage'), 'test:ada', 'chat');
      await expect(added).rejects.toMatchObject({ userMessage: '"scan.broken" is damaged and could not be read.' });
      const [doc] = await world.knowledge.list(world.homelab);
      expect(doc).toMatchObject({ fileName: 'scan.broken', source: 'chat', status: 'failed', error: '"scan.broken" is damaged and could not be read.', chunkCount: 0 });
      expect((await world.knowledge.status(world.homelab)).documents).toMatchObject({ failed: 1, indexed: 0 });
      expect(await world.count('knowledge_chunks')).toBe(0);
    });

    it('should mark a document failed, not leave it queued, when it cannot be cut into chunks', async () => {
      world = await knowledgeWorld({ embedding: false });
      const { rt } = world;
      const broken = createKnowledge(
        { database: rt.database, config: rt.deps.config, router: rt.deps.router, prices: rt.deps.prices, log: rt.deps.log, now: rt.deps.now },
        { extract: readFake, chunk: () => { throw new Error('chunker bug'); } },
      );
      await expect(broken.add(world.homelab, file('guide.md', GUIDE), 'test:ada')).rejects.toThrow('chunker bug');
      expect(await world.knowledge.list(world.homelab)).toMatchObject([{ status: 'failed', error: 'could not be indexed: chunker bug' }]);
    });

    it('should take a file again that failed before, in place of the failed document', async () => {
      world = await knowledgeWorld({ embedding: false });
      const { rt } = world;
      const flaky = createKnowledge(
        { database: rt.database, config: rt.deps.config, router: rt.deps.router, prices: rt.deps.prices, log: rt.deps.log, now: rt.deps.now },
        { extract: async () => { throw new Error('disk hiccup'); } },
      );
      await expect(flaky.add(world.homelab, file('guide.md', GUIDE), 'test:ada')).rejects.toThrow();
      const again = await world.knowledge.add(world.homelab, file('guide.md', GUIDE), 'test:ada');
      expect(again.status).toBe('indexed');
      expect((await world.knowledge.list(world.homelab)).map((d) => [d.id, d.status])).toEqual([[again.id, 'indexed']]);
    });

    it('should mark a file that was being read when Threadloom stopped as failed at the next start, saying to add it again, and take it again', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-knowledge-interrupted-'));
      dirs.push(dir);
      world = await knowledgeWorld({ embedding: false, dir });
      const { rt } = world;
      // reading never ends: the process stops with the document recorded and nothing read
      const reading = createKnowledge(
        { database: rt.database, config: rt.deps.config, router: rt.deps.router, prices: rt.deps.prices, log: rt.deps.log, now: rt.deps.now },
        { extract: () => new Promise(() => {}) },
      );
      void reading.add(world.homelab, file('guide.md', GUIDE), 'test:ada');
      void reading.add(world.homelab, file('notes.txt', 'Set a static address.'), 'test:ada', 'url', 'https://wiki.lan/notes.txt');
      await until(async () => (await world.knowledge.status(world.homelab)).documents.queued === 2);
      await world.close();

      world = await knowledgeWorld({ embedding: false, dir });
      expect((await world.knowledge.list(world.homelab)).map((d) => [d.fileName, d.status, d.error])).toEqual([
        ['notes.txt', 'failed', 'Reading it was interrupted when Threadloom stopped; add the URL again.'],
        ['guide.md', 'failed', 'Reading it was interrupted when Threadloom stopped; add the file again.'],
      ]);
      expect((await world.knowledge.status(world.homelab)).documents).toMatchObject({ queued: 0, failed: 2 });
      const again = await world.knowledge.add(world.homelab, file('guide.md', GUIDE), 'test:ada');
      expect(again).toMatchObject({ status: 'indexed', chunkCount: 2 });
    });

    it('should read a Markdown file with the real reader and chunker when none is injected', async () => {
      world = await knowledgeWorld({ embedding: false });
      const markdown = '# Router\n\n## VLANs\n\nThe IoT VLAN is number 40 and has no route to the LAN.\n';
      const doc = await world.rt.knowledge.add(world.homelab, { name: 'router.md', mimeType: 'text/markdown', bytes: new TextEncoder().encode(markdown) }, 'test:ada');
      expect(doc).toMatchObject({ format: 'markdown', status: 'indexed' });
      const [source] = await world.rt.knowledge.retrieve(world.homelab, 'IoT VLAN route', { maxTokens: 300 });
      expect(source).toMatchObject({ documentId: doc.id, fileName: 'router.md', headings: expect.arrayContaining(['VLANs']) });
    });

    it('should record what the file is and where it came from', async () => {
      world = await knowledgeWorld({ embedding: false });
      const doc = await world.knowledge.add(world.homelab, file('guide.md', GUIDE), 'slack:U1', 'url', 'http://wiki.lan/guide.md');
      expect(doc).toMatchObject({
        title: 'guide', fileName: 'guide.md', mimeType: 'text/plain', sizeBytes: GUIDE.length, pageCount: 2, source: 'url',
        sourceUrl: 'http://wiki.lan/guide.md', addedBy: 'slack:U1', status: 'indexed', chunkCount: 2,
      });
      expect(doc.indexedAt).not.toBeNull();
    });
  });

  describe('text, preview and reindex', () => {
    it('should add pasted text, preview it, and re-chunk it from the stored text with pages and headings kept', async () => {
      world = await knowledgeWorld({ embedding: true });
      const note = await world.knowledge.addText(world.homelab, 'Wi-Fi', 'The guest network is called lan-guest.\n\nIts password rotates monthly.', 'test:ada');
      expect(note).toMatchObject({ source: 'text', format: 'text', chunkCount: 2 });
      expect(await world.knowledge.preview(note.id, 20)).toMatchObject({ text: 'The guest network is', truncated: true });

      const guide = await world.knowledge.add(world.homelab, file('guide.md', GUIDE), 'test:ada');
      await world.drained();
      const embeddedBefore = world.embedded().length;
      const again = await world.knowledge.reindex(guide.id);
      expect(again).toMatchObject({ status: 'indexing', chunkCount: 2 });
      await world.drained();
      expect(world.embedded().length).toBe(embeddedBefore + 2);
      expect(await world.count('knowledge_vec')).toBe(4);
      const [source] = await world.knowledge.retrieve(world.homelab, 'static address', { maxTokens: 300 });
      expect(source).toMatchObject({ title: 'guide', pageStart: 2, headings: ['Network'] });
    });

    it('should list only the asked Experience\'s documents and say there is none for an unknown id', async () => {
      world = await knowledgeWorld({ embedding: false });
      await world.knowledge.addText(world.homelab, 'A', 'alpha', 'test:ada');
      await world.knowledge.addText(world.kitchen, 'B', 'beta', 'test:bo');
      expect((await world.knowledge.list(world.kitchen)).map((d) => d.title)).toEqual(['B']);
      expect(await world.knowledge.get(999)).toBeNull();
      await expect(world.knowledge.reindex(999)).rejects.toMatchObject({ code: 'not_found' });
      expect(await world.knowledge.remove(999)).toBe(false);
    });
  });
});
