import { afterEach, describe, expect, it } from 'vitest';
import { formatSources, KnowledgeRetriever } from '../../../src/core/knowledge/retrieve.js';
import { file, knowledgeWorld, type KnowledgeWorld } from './world.js';

let world: KnowledgeWorld;
afterEach(async () => {
  await world?.close();
});

const SWITCH_GUIDE = `# Switch setup

[page 7]

Tag port 4 on the core switch as a trunk carrying VLAN 20 and VLAN 30.

[page 8]

Untagged ports stay on the default VLAN 1.`;

describe(KnowledgeRetriever.name, () => {
  describe('keywords', () => {
    it('should find the chunk with the words only in the Experience that holds it', async () => {
      world = await knowledgeWorld({ embedding: false });
      await world.knowledge.add(world.homelab, file('switch.txt', SWITCH_GUIDE), 'test:ada');
      await world.knowledge.addText(world.kitchen, 'Oven', 'The trunk of the oven trolley holds the baking trays.', 'test:bo');

      const homelab = await world.knowledge.retrieve(world.homelab, 'Which port is the trunk?', { maxTokens: 500 });
      // both words first, then the one with "ports"; never the kitchen's trolley trunk
      expect(homelab.map((s) => s.pageStart)).toEqual([7, 8]);
      expect(homelab[0]).toMatchObject({ n: 1, title: 'switch', fileName: 'switch.txt', pageStart: 7, headings: ['Switch setup'], matched: ['keywords'] });
      expect(homelab[0]!.text).toContain('port 4');

      const kitchen = await world.knowledge.retrieve(world.kitchen, 'Which port is the trunk?', { maxTokens: 500 });
      expect(kitchen.map((s) => s.title)).toEqual(['Oven']);
      expect(formatSources(homelab.slice(0, 1))).toBe(`[1] switch (switch.txt), p. 7 › Switch setup\n${homelab[0]!.text}`);
    });

    it('should return nothing for a question that shares only common words with the documents', async () => {
      world = await knowledgeWorld({ embedding: false });
      await world.knowledge.add(world.homelab, file('switch.txt', SWITCH_GUIDE), 'test:ada');
      expect(await world.knowledge.retrieve(world.homelab, 'What is the best recipe for banana bread on the default oven?', { maxTokens: 500 })).toEqual([]);
    });
  });

  describe('meaning', () => {
    it('should return a chunk with none of the words but the same meaning, and nothing for an unrelated question', async () => {
      world = await knowledgeWorld({ embedding: true });
      await world.knowledge.addText(world.homelab, 'Power', 'When the mains fail the UPS battery runtime is twelve minutes.', 'test:ada');
      await world.knowledge.addText(world.homelab, 'Backups', 'Restic snapshots are pruned every Sunday.', 'test:ada');
      await world.knowledge.addText(world.kitchen, 'Kitchen power', 'The oven outage: the battery of the timer is flat.', 'test:bo');
      await world.drained();

      const sources = await world.knowledge.retrieve(world.homelab, 'how long do we last in an outage?', { maxTokens: 500 });
      expect(sources.map((s) => [s.title, s.matched])).toEqual([['Power', ['meaning']]]);
      expect(await world.knowledge.retrieve(world.homelab, 'what colour are the curtains?', { maxTokens: 500 })).toEqual([]);
      const usage = await world.rt.database.db.selectFrom('usage_events').select(['purpose', 'experience_id']).where('purpose', '=', 'knowledge').execute();
      expect(usage.length).toBeGreaterThanOrEqual(3); // three chunks' batches and two questions
    });
  });

  describe('choice of sources', () => {
    it('should give at most two chunks of one document before others, and stay within the token budget', async () => {
      world = await knowledgeWorld({ embedding: false });
      const paragraphs = Array.from({ length: 5 }, (_, i) => `Restic backup step ${i + 1}: run the backup of dataset ${i + 1} and check the snapshot.`);
      await world.knowledge.addText(world.homelab, 'Runbook', paragraphs.join('\n\n'), 'test:ada');
      await world.knowledge.addText(world.homelab, 'Offsite', 'The offsite restic backup copies each snapshot to the cloud bucket.', 'test:ada');

      const diverse = await world.knowledge.retrieve(world.homelab, 'restic backup snapshot', { maxTokens: 2_000, limit: 3 });
      expect(diverse.map((s) => s.title).sort()).toEqual(['Offsite', 'Runbook', 'Runbook']);
      expect(diverse.map((s) => s.n)).toEqual([1, 2, 3]);

      const all = await world.knowledge.retrieve(world.homelab, 'restic backup snapshot', { maxTokens: 2_000, limit: 10 });
      expect(all).toHaveLength(6);

      const budget = 70;
      const tight = await world.knowledge.retrieve(world.homelab, 'restic backup snapshot', { maxTokens: budget, limit: 10 });
      expect(tight.length).toBeGreaterThan(0);
      expect(tight.length).toBeLessThan(6);
      const tokens = Math.ceil(formatSources(tight).length / 4);
      expect(tokens).toBeLessThanOrEqual(budget);
    });
  });
});
