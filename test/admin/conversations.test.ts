import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConversationRow, MessageRow } from '../../src/core/conversations/table.js';
import { startTestAdmin, usageEvent, type AdminSession, type TestAdmin } from '../support/admin.js';

const XSS = '<script>alert(1)</script><img src=x onerror=alert(1)>';
const XSS_ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;';

let admin: TestAdmin;
let session: AdminSession;
let branched: ConversationRow;
let other: ConversationRow;
let messages: Record<string, MessageRow>;

async function say(conversationId: number, text: string, parentId?: number | null, author = { id: 'u1', name: 'Ada' }) {
  return admin.rt.deps.conversations.append(conversationId, { role: 'user', content: text, authorId: author.id, authorName: author.name }, parentId);
}

async function answer(conversationId: number, text: string, parentId: number | null | undefined, figures: { tokensIn: number; tokensOut: number; costUsd: number; latencyMs: number; ttftMs: number }) {
  const row = await admin.rt.deps.conversations.append(conversationId, { role: 'assistant', content: '', model: 'openai/gpt-4o-mini', status: 'streaming' }, parentId);
  await admin.rt.deps.conversations.finishAnswer(row.id, { content: text, status: 'complete', model: 'openai/gpt-4o-mini', ...figures });
  return row;
}

beforeAll(async () => {
  admin = await startTestAdmin();
  session = await admin.login();
  const { conversations, experiences } = admin.rt.deps;
  const general = await experiences.require('general');
  const homelab = await experiences.require('homelab');

  // q1 → a1 | a2 (regenerated; active) → q2 → a3 (active leaf)
  branched = await conversations.create({ platform: 'discord', channelId: 'c-1', threadId: 't-1' }, general.id, 'discord:u1');
  await conversations.update(branched.id, { title: 'Ports on the NAS' });
  const q1 = await say(branched.id, 'which ports are open?');
  const a1 = await answer(branched.id, 'first answer: run ss', q1.id, { tokensIn: 100, tokensOut: 10, costUsd: 0.00002, latencyMs: 900, ttftMs: 300 });
  const a2 = await answer(branched.id, 'second answer: run ss -tlnp', q1.id, { tokensIn: 120, tokensOut: 12, costUsd: 0.0000252, latencyMs: 850, ttftMs: 210 });
  const q2 = await say(branched.id, 'and udp?', a2.id);
  const a3 = await answer(branched.id, 'add -u', q2.id, { tokensIn: 150, tokensOut: 4, costUsd: 0.0000249, latencyMs: 400, ttftMs: 120 });
  messages = { q1, a1, a2, q2, a3 };

  other = await conversations.create({ platform: 'slack', channelId: 'C9', threadId: null }, homelab.id, 'slack:U2');
  await conversations.update(other.id, { title: XSS });
  await say(other.id, XSS, undefined, { id: 'U2', name: XSS });
  await admin.rt.deps.db.updateTable('conversations').set({ created_at: '2026-10-01T09:00:00.000Z' }).where('id', '=', other.id).execute();
});
afterAll(async () => {
  await admin.close();
});

function listedIds(page: string): number[] {
  return [...page.matchAll(/<a href="\/conversations\/(\d+)">/g)].map((m) => Number(m[1]));
}

describe('Conversations page', () => {
  it('should list conversations and filter them by platform, Experience, user and date', async () => {
    expect(listedIds((await session.get('/conversations')).body).sort()).toEqual([branched.id, other.id].sort());
    expect(listedIds((await session.get('/conversations?platform=slack')).body)).toEqual([other.id]);
    expect(listedIds((await session.get('/conversations?experience=general')).body)).toEqual([branched.id]);
    expect(listedIds((await session.get('/conversations?user=U2')).body)).toEqual([other.id]);
    expect(listedIds((await session.get('/conversations?user=Ada')).body)).toEqual([branched.id]);
    expect(listedIds((await session.get('/conversations?user=discord%3Au1')).body)).toEqual([branched.id]);
    expect(listedIds((await session.get('/conversations?from=2026-10-01&to=2026-10-01')).body)).toEqual([other.id]);
    expect(listedIds((await session.get('/conversations?to=2026-09-30')).body)).toEqual([]);
    expect((await session.get('/conversations?platform=matrix')).body).toContain('No conversations match.');
  });

  it('should answer the filter form from htmx with the results table only', async () => {
    const response = await session.get('/conversations/results?platform=discord', { 'hx-request': 'true' });
    expect(response.body).not.toContain('<html');
    expect(response.body).not.toContain('<form');
    expect(listedIds(response.body)).toEqual([branched.id]);
  });

  it('should show a conversation as a tree: siblings side by side, the active branch and leaf marked', async () => {
    const page = (await session.get(`/conversations/${branched.id}`)).body;
    expect(page).toContain('<h1>Ports on the NAS</h1>');
    // both answers to q1 are shown, as branch 1 and branch 2 of 2; the regenerated one is active
    expect(page).toContain('first answer: run ss');
    expect(page).toContain('second answer: run ss -tlnp');
    const branches = [...page.matchAll(/<section class="branch( active)?" data-active="(true|false)" aria-label="Branch (\d) of 2">/g)].map((m) => [m[3], m[2]]);
    expect(branches).toEqual([
      ['1', 'false'],
      ['2', 'true'],
    ]);
    const a1 = page.indexOf(`id="m${messages.a1!.id}"`);
    const a2 = page.indexOf(`id="m${messages.a2!.id}"`);
    const branch2 = page.indexOf('aria-label="Branch 2 of 2"');
    expect(a1).toBeLessThan(branch2);
    expect(a2).toBeGreaterThan(branch2);
    expect(page).toMatch(new RegExp(`<li class="message assistant on-active leaf" id="m${messages.a3!.id}" data-active="true">`));
    expect(page).toMatch(new RegExp(`<li class="message assistant" id="m${messages.a1!.id}" data-active="false">`));
    expect(page.slice(page.indexOf(`id="m${messages.a3!.id}"`))).toMatch(/^[^]*?active leaf/);
  });

  it('should show model, tokens, cost and latency for each answer', async () => {
    const page = (await session.get(`/conversations/${branched.id}`)).body;
    const figuresOf = (id: number) => {
      const at = page.indexOf(`id="m${id}"`);
      return page.slice(page.indexOf('<p class="figures">', at), page.indexOf('</p>', page.indexOf('<p class="figures">', at)));
    };
    expect(figuresOf(messages.a2!.id)).toContain('openai/gpt-4o-mini · 120 in / 12 out tokens · $0.000025 · 850 ms total · 210 ms to first token');
    expect(figuresOf(messages.a1!.id)).toContain('100 in / 10 out tokens');
    expect(figuresOf(messages.a3!.id)).toContain('400 ms total · 120 ms to first token');
    expect(page).toContain('370 in / 26 out tokens');
  });

  it('should render chat content as text, never as markup', async () => {
    for (const url of [`/conversations/${other.id}`, '/conversations', '/conversations?platform=slack']) {
      const page = (await session.get(url)).body;
      expect(page, url).toContain(XSS_ESCAPED);
      expect(page, url).not.toContain('<script>alert');
      expect(page, url).not.toContain('<img src=x');
    }
  });

  it('should export the active branch as Markdown and JSON', async () => {
    const md = await session.get(`/conversations/${branched.id}/export.md`);
    expect(md.headers['content-disposition']).toBe(`attachment; filename="conversation-${branched.id}.md"`);
    expect(md.body).toContain('# Ports on the NAS');
    expect(md.body).toContain('second answer: run ss -tlnp');
    expect(md.body).not.toContain('first answer: run ss');
    const json = (await session.get(`/conversations/${branched.id}/export.json`)).json();
    expect(json.messages.map((m: { id: number }) => m.id)).toEqual([messages.q1!.id, messages.a2!.id, messages.q2!.id, messages.a3!.id]);
    expect(json.experienceSlug).toBe('general');
  });

  it('should answer 404 for a conversation that does not exist', async () => {
    expect((await session.get('/conversations/99999')).statusCode).toBe(404);
    expect((await session.get('/conversations/abc')).statusCode).toBe(404);
  });

  it('should delete a conversation only when confirmed, keep its usage rows, and audit it', async () => {
    const doomed = await admin.rt.deps.conversations.create({ platform: 'matrix', channelId: '!room', threadId: null }, 1, 'matrix:@x');
    const q = await say(doomed.id, 'bye');
    await admin.rt.deps.db
      .insertInto('usage_events')
      .values(usageEvent({ conversation_id: doomed.id, message_id: q.id }))
      .execute();

    const unconfirmed = await session.post(`/conversations/${doomed.id}/delete`);
    expect(unconfirmed.statusCode).toBe(400);
    expect(await admin.rt.deps.db.selectFrom('conversations').select('id').where('id', '=', doomed.id).executeTakeFirst()).toBeDefined();

    const deleted = await session.post(`/conversations/${doomed.id}/delete`, { confirm: 'yes' });
    expect(deleted.statusCode).toBe(303);
    expect(await admin.rt.deps.db.selectFrom('conversations').select('id').where('id', '=', doomed.id).executeTakeFirst()).toBeUndefined();
    expect(await admin.rt.deps.db.selectFrom('messages').select('id').where('conversation_id', '=', doomed.id).execute()).toHaveLength(0);
    expect(await admin.rt.deps.db.selectFrom('usage_events').select('id').where('conversation_id', '=', doomed.id).execute()).toHaveLength(1);
    const entry = await admin.rt.deps.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ action: 'conversation.delete', target: `conversation ${doomed.id}`, actor: 'admin@127.0.0.1' });
    expect((await session.get('/conversations')).body).toContain(`Deleted conversation ${doomed.id}.`);
  });
});
