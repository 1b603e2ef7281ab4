import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConversationService } from '../../src/core/conversations/service.js';
import { instanceLease, recoverInterruptedAnswers } from '../../src/core/instances/interrupted.js';
import { Leases } from '../../src/core/instances/leases.js';
import { TestContext } from '../support/db.js';
import { TEST_POSTGRES_URL, sqliteOnly } from '../support/postgres.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await TestContext.create();
});
afterEach(async () => {
  await ctx.close();
});

/** An answer being written by `writer`, with what arrived so far. */
async function streaming(writer: string, content: string) {
  const conversation = await ctx.newConversation();
  const question = await ctx.say(conversation.id, 'how do I prune docker images?');
  return new ConversationService(ctx.db, writer).append(conversation.id, { role: 'assistant', content, status: 'streaming', model: 'fake/model' }, question.id);
}

async function state(id: number) {
  const row = await ctx.conversations.message(id);
  return [row.status, row.writer];
}

describe('answers cut off by a stopped instance', () => {
  sqliteOnly('one process owns the SQLite file; on PostgreSQL the lease test below runs instead').it('are all marked at the start on SQLite, where one process writes', async () => {
    const cut = await streaming('a', 'Use docker image');
    const empty = await streaming('a', '');
    expect(await state(cut.id)).toEqual(['streaming', 'a']);
    expect(await recoverInterruptedAnswers(ctx.db)).toBe(2);
    expect(await state(cut.id)).toEqual(['partial', null]);
    expect(await state(empty.id)).toEqual(['error', null]);
  });

  it.skipIf(!TEST_POSTGRES_URL)('are marked only when their writer no longer holds its instance lease, on PostgreSQL', async () => {
    await new Leases(ctx.db, 'alive').take(instanceLease('alive'), 60_000);
    await new Leases(ctx.db, 'lapsed').take(instanceLease('lapsed'), 1);
    const writing = await streaming('alive', 'Use docker image');
    const lapsed = await streaming('lapsed', 'Run docker system');
    const gone = await streaming('gone', '');
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(await recoverInterruptedAnswers(ctx.db)).toBe(2);
    expect(await state(writing.id)).toEqual(['streaming', 'alive']);
    expect(await state(lapsed.id)).toEqual(['partial', null]);
    expect(await state(gone.id)).toEqual(['error', null]);
  });
});
