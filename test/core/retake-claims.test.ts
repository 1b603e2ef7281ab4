import { afterEach, describe, expect, it } from 'vitest';
import { instanceLease } from '../../src/core/instances/interrupted.js';
import { Leases } from '../../src/core/instances/leases.js';
import { RELEASED } from '../../src/core/turns/gate.js';
import { TEST_POSTGRES_URL } from '../support/postgres.js';
import { RecordingReply, inbound } from '../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

/**
 * An instance killed mid-answer leaves its claim on the question and a cut-off answer. The
 * instance that takes the platform over gives back the claims of instances no longer alive, and
 * its catch-up's redelivery answers the question again, once; claims of live instances and
 * handled events stay as they are.
 */
let rt: TestRuntime | null = null;
afterEach(async () => {
  await rt?.shutdown();
  rt = null;
});

describe.skipIf(!TEST_POSTGRES_URL)('events left unfinished by a stopped instance, on PostgreSQL', () => {
  it('are answered again once after the platform is taken over; handled ones and those of live instances are not', async () => {
    rt = await startTestRuntime();
    const db = rt.deps.db;
    const claim = (eventId: string) => db.selectFrom('processed_events').select('claimed_by').where('platform', '=', 'test').where('event_id', '=', eventId).executeTakeFirst();

    // answered normally here: the claim is finished, nothing to take again
    const first = inbound('how do I prune docker images?');
    const reply = new RecordingReply();
    await rt.engine.handle(first, reply);
    expect(reply.transcript).toContain('Echo');
    expect(await claim(first.eventId)).toEqual({ claimed_by: null });

    // the killed instance: its claim on a stored question, its answer cut off while streaming
    const cut = inbound('and the build cache?');
    const cutReply = new RecordingReply();
    await rt.engine.handle(cut, cutReply);
    const question = await db.selectFrom('platform_messages').innerJoin('messages', 'messages.id', 'platform_messages.message_id').select(['messages.id', 'messages.conversation_id']).where('platform_messages.platform_message_id', '=', cut.messageId).executeTakeFirstOrThrow();
    await db.updateTable('messages').set({ status: 'partial', content: 'Run docker builder', error: 'interrupted: Threadloom stopped while answering' }).where('parent_id', '=', question.id).execute();
    await db.updateTable('processed_events').set({ claimed_by: 'killed' }).where('event_id', '=', cut.eventId).execute();
    // one that died before it stored the question at all
    const unseen = inbound('what about volumes?');
    await db.insertInto('processed_events').values({ platform: 'test', event_id: unseen.eventId, claimed_by: 'killed' }).execute();
    // and a live instance still answering: renews its lease
    const live = inbound('is this one mine?');
    await db.insertInto('processed_events').values({ platform: 'test', event_id: live.eventId, claimed_by: 'live' }).execute();
    const liveLeases = new Leases(db, 'live');
    await liveLeases.take(instanceLease('live'), 400);
    const renewing = setInterval(() => void liveLeases.take(instanceLease('live'), 400), 100);
    try {
      await rt.engine.releaseOrphanedClaims('test');
    } finally {
      clearInterval(renewing);
    }
    expect(await claim(cut.eventId)).toEqual({ claimed_by: RELEASED });
    expect(await claim(unseen.eventId)).toEqual({ claimed_by: RELEASED });
    expect(await claim(live.eventId)).toEqual({ claimed_by: 'live' });
    expect(await claim(first.eventId)).toEqual({ claimed_by: null });
    expect(rt.logs.some((l) => /test: 2 events a stopped instance left unfinished are taken again/.test(l.message))).toBe(true);

    // the catch-up delivers them all again
    const again = new RecordingReply();
    for (const event of [first, cut, unseen, live]) await rt.engine.handle(event, again);
    const text = again.transcript;
    expect(text).toContain('Echo: and the build cache?');
    expect(text).toContain('Echo: what about volumes?');
    expect(text).not.toContain('prune docker images');
    expect(text).not.toContain('is this one mine');

    // each question stored once; the cut-off answer kept beside the one written whole
    const messages = await db.selectFrom('messages').select(['role', 'content', 'status', 'parent_id']).where('conversation_id', '=', question.conversation_id).orderBy('id').execute();
    expect(messages.filter((m) => m.role === 'user' && m.content === 'and the build cache?')).toHaveLength(1);
    const answers = messages.filter((m) => m.parent_id === question.id);
    expect(answers.map((m) => [m.content.split('\n')[0], m.status])).toEqual([
      ['Run docker builder', 'partial'],
      ['Echo: and the build cache?', 'complete'],
    ]);
    const active = await rt.deps.conversations.get(question.conversation_id);
    expect(active.active_leaf_id).toBeGreaterThan(question.id);

    // a further redelivery is dropped: answered, and finished
    const later = new RecordingReply();
    await rt.engine.handle(cut, later);
    expect(later.messages).toHaveLength(0);
    expect(await claim(cut.eventId)).toEqual({ claimed_by: null });
  });
});
