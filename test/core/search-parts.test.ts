import { afterEach, describe, expect, it } from 'vitest';
import { reciprocalRankFusion } from '../../src/core/search/fuse.js';
import { snippetOf } from '../../src/core/search/snippet.js';
import { ftsExpression, SearchStore, type PendingMessage } from '../../src/core/search/store.js';
import { createTestDatabase } from '../support/db.js';

describe('reciprocal rank fusion', () => {
  it('ranks an id found by both lists above ids that top only one', () => {
    const fused = reciprocalRankFusion([['a', 'both', 'c'], ['x', 'y', 'both']]);
    expect(fused[0]!.id).toBe('both');
    expect(fused.map((f) => f.id).slice(1, 3).sort()).toEqual(['a', 'x']);
  });
});

describe('snippets', () => {
  it('shows the text around the first word of the query, by its stem, with ellipses', () => {
    const text = `${'Lorem ipsum dolor sit amet. '.repeat(20)}The cluster was rebalancing all night. ${'More words follow here. '.repeat(20)}`;
    const snippet = snippetOf(text, 'rebalance', 120);
    expect(snippet).toContain('rebalancing');
    expect(snippet.startsWith('…')).toBe(true);
    expect(snippet.endsWith('…')).toBe(true);
    expect(snippet.length).toBeLessThanOrEqual(122);
    expect(snippetOf('short  text\nhere', 'x')).toBe('short text here');
  });
});

describe('FTS expressions', () => {
  it('quotes every word so users cannot write FTS5 syntax, and drops punctuation', () => {
    expect(ftsExpression('ceph "OR" rebal* NEAR(x)', 'AND')).toBe('"ceph" AND "or" AND "rebal" AND "near" AND "x"');
    expect(ftsExpression('?!', 'OR')).toBeNull();
  });
});

describe('the vector store', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  function pending(id: number, experienceId: number, channelId: string): PendingMessage {
    return { messageId: id, content: '', experienceId, conversationId: id, platform: 'test', channelId, authorId: 'u', attempts: 0, reason: 'content' };
  }

  it('ranks by exact cosine distance within the filter, also when fewer rows exist than the probe asks for', async () => {
    const database = await createTestDatabase();
    cleanups.push(database.cleanup);
    // the rows the vectors belong to (a vector for a message that is gone is not stored)
    database.sqlite.exec(`INSERT INTO experiences(id, slug, name, persona_name) VALUES (1, 'one', 'One', 'P'), (2, 'two', 'Two', 'P');
      INSERT INTO conversations(id, platform, channel_id, experience_id) VALUES (1, 'test', 'a', 1);`);
    for (let id = 1; id <= 5; id++) database.sqlite.prepare(`INSERT INTO messages(id, conversation_id, role, content, status) VALUES (?, 1, 'user', '', 'error')`).run(id);
    const store = new SearchStore(database.sqlite);
    store.reset('test/model');
    store.ensureVectors(4);
    const v = (...xs: number[]) => Float32Array.from(xs);
    store.store([
      { message: pending(1, 1, 'a'), vector: v(1, 0, 0, 0) },
      { message: pending(2, 1, 'a'), vector: v(0.9, 0.1, 0, 0) },
      { message: pending(3, 1, 'b'), vector: v(1, 0.01, 0, 0) },
      { message: pending(4, 2, 'a'), vector: v(1, 0, 0, 0) },
      { message: pending(5, 1, 'a'), vector: v(-1, 0, 0, 0) },
    ]);
    const ids = (filter: Parameters<SearchStore['nearest']>[1]) => store.nearest(v(1, 0, 0, 0), filter, 10, 64).map((r) => r.messageId);
    expect(ids({ experienceIds: [1], channelIds: ['a'] })).toEqual([1, 2, 5]);
    const both = ids({ experienceIds: [1, 2] });
    expect(new Set(both.slice(0, 2))).toEqual(new Set([1, 4])); // equal vectors: either order
    expect(both.slice(2)).toEqual([3, 2, 5]);
    expect(new Set(ids({}))).toEqual(new Set([1, 2, 3, 4, 5]));
    expect(ids({ channelIds: [] })).toEqual([]);
    store.store([{ message: pending(6, 1, 'a'), vector: v(1, 0, 0, 0) }]); // no message 6: not stored
    expect(new Set(ids({}))).toEqual(new Set([1, 2, 3, 4, 5]));
    expect(() => store.ensureVectors(8)).toThrow(/8-dimensional vectors; the index holds 4/);
  });
});
