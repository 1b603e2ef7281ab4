import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { reciprocalRankFusion } from '../../src/core/search/fuse.js';
import { snippetOf } from '../../src/core/search/snippet.js';
import { openSearchIndex } from '../../src/core/search/open-index.js';
import type { PendingMessage, VectorFilter } from '../../src/core/search/search-index.js';
import { ftsExpression } from '../../src/core/search/store.js';
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
    const { db } = database;
    await sql`INSERT INTO experiences(id, slug, name, persona_name) VALUES (1, 'one', 'One', 'P'), (2, 'two', 'Two', 'P')`.execute(db);
    await db.insertInto('conversations').values({ id: 1, platform: 'test', channel_id: 'a', experience_id: 1 }).execute();
    for (let id = 1; id <= 5; id++) await db.insertInto('messages').values({ id, conversation_id: 1, role: 'user', content: '', status: 'error' }).execute();
    const store = openSearchIndex(database);
    await store.reset('test/model');
    await store.ensureVectors(4);
    const v = (...xs: number[]) => Float32Array.from(xs);
    await store.store([
      { message: pending(1, 1, 'a'), vector: v(1, 0, 0, 0) },
      { message: pending(2, 1, 'a'), vector: v(0.9, 0.1, 0, 0) },
      { message: pending(3, 1, 'b'), vector: v(1, 0.01, 0, 0) },
      { message: pending(4, 2, 'a'), vector: v(1, 0, 0, 0) },
      { message: pending(5, 1, 'a'), vector: v(-1, 0, 0, 0) },
    ]);
    const ids = async (filter: VectorFilter) => (await store.nearest(v(1, 0, 0, 0), filter, 10, 64)).map((r) => r.messageId);
    expect(await ids({ experienceIds: [1], channelIds: ['a'] })).toEqual([1, 2, 5]);
    const both = await ids({ experienceIds: [1, 2] });
    expect(new Set(both.slice(0, 2))).toEqual(new Set([1, 4])); // equal vectors: either order
    expect(both.slice(2)).toEqual([3, 2, 5]);
    expect(new Set(await ids({}))).toEqual(new Set([1, 2, 3, 4, 5]));
    expect(await ids({ channelIds: [] })).toEqual([]);
    await store.store([{ message: pending(6, 1, 'a'), vector: v(1, 0, 0, 0) }]); // no message 6: not stored
    expect(new Set(await ids({}))).toEqual(new Set([1, 2, 3, 4, 5]));
    await expect(store.ensureVectors(8)).rejects.toThrow(/8-dimensional vectors; the index holds 4/);
  });
});
