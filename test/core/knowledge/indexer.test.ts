import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KnowledgeIndexer } from '../../../src/core/knowledge/indexer.js';
import { until } from '../../support/wait.js';
import { knowledgeWorld, type KnowledgeWorld } from './world.js';

let world: KnowledgeWorld | undefined;
let cleanup: Array<() => void> = [];
afterEach(async () => {
  await world?.close();
  world = undefined;
  for (const step of cleanup.reverse()) step();
  cleanup = [];
});

const paragraphs = (n: number, topic: string): string => Array.from({ length: n }, (_, i) => `Paragraph ${i + 1} about the ${topic}.`).join('\n\n');

describe(KnowledgeIndexer.name, () => {
  it('should embed every chunk once, store its vector in its Experience, and record knowledge usage', async () => {
    world = await knowledgeWorld({ embedding: true, batchSize: 2 });
    const doc = await world.knowledge.addText(world.homelab, 'Rack', paragraphs(5, 'ups battery'), 'test:ada');
    expect(doc.status).toBe('indexing');
    await world.knowledge.addText(world.kitchen, 'Pantry', paragraphs(2, 'spice shelf'), 'test:bo');
    await world.drained();

    expect(world.embedded()).toHaveLength(7);
    expect(new Set(world.embedded()).size).toBe(7);
    expect(await world.count('knowledge_vec')).toBe(7);
    expect(await world.knowledge.status(world.homelab)).toMatchObject({ state: 'idle', chunks: 5, embedded: 5, waiting: 0, documents: { indexed: 1 } });
    expect(await world.knowledge.status()).toMatchObject({ chunks: 7, embedded: 7, documents: { indexed: 2 } });
    expect(await world.knowledge.get(doc.id)).toMatchObject({ status: 'indexed', error: null });
    const usage = await world.rt.database.db.selectFrom('usage_events').select(['purpose', 'experience_id', 'model']).where('purpose', '=', 'knowledge').execute();
    // batches are per Experience: each row names the one its chunks belong to
    expect(usage.filter((u) => u.experience_id === world!.homelab).length).toBeGreaterThanOrEqual(3);
    expect(usage.filter((u) => u.experience_id === world!.kitchen).length).toBeGreaterThanOrEqual(1);
    expect(usage.every((u) => u.model === 'openai/text-embedding-3-small')).toBe(true);
  });

  it('should resume after a restart mid-queue without embedding a stored chunk again', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-knowledge-restart-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    world = await knowledgeWorld({ embedding: true, batchSize: 2, dir });
    // the first request is answered; the second never is
    world.rt.openai.scriptFor('embed', {}, { stallBeforeHeadersMs: Infinity });
    await world.knowledge.addText(world.homelab, 'Switch', paragraphs(6, 'vlan trunk'), 'test:ada');
    await until(() => world!.rt.openai.requests.filter((r) => r.path.endsWith('/embeddings')).length === 2);
    await until(async () => await world!.count('knowledge_vec') === 2);
    const firstRun = world.rt.openai.requests.filter((r) => r.path.endsWith('/embeddings')).slice(0, 1).flatMap((r) => (r.body as { input: string[] }).input);
    await world.close();

    world = await knowledgeWorld({ embedding: true, batchSize: 2, dir });
    await world.drained();
    const secondRun = world.embedded();
    expect(secondRun).toHaveLength(4);
    expect(secondRun.filter((t) => firstRun.includes(t))).toEqual([]);
    expect(await world.count('knowledge_vec')).toBe(6);
    expect(await world.knowledge.status()).toMatchObject({ documents: { indexed: 1 }, waiting: 0 });
  });

  it('should keep chunks queued with the reason when the model fails, and embed them on a later try', async () => {
    world = await knowledgeWorld({ embedding: true, batchSize: 8 });
    world.rt.openai.scriptFor('embed', { status: 400, errorMessage: 'model is overloaded with nonsense' });
    const doc = await world.knowledge.addText(world.homelab, 'Notes', 'One paragraph about restic.', 'test:ada');
    const failing = await until(async () => {
      const status = await world!.knowledge.status(world!.homelab);
      return status.failing > 0 ? status : null;
    });
    expect(failing.state).toBe('failing');
    expect(failing.lastError).toContain('overloaded');
    expect((await world.knowledge.get(doc.id))!.error).toContain('embedding failed, will retry');
    // the retry waits its backoff; make it due now
    await world.rt.database.db.updateTable('knowledge_queue').set({ not_before: null }).execute();
    await world.drained();
    expect(await world.knowledge.get(doc.id)).toMatchObject({ status: 'indexed', error: null });
  });
});
