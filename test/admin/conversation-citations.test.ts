import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConversationRow } from '../../src/core/conversations/table.js';
import { startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';

/** An answer that cites documents, as the admin's conversation page and the exports show it. */

const HOSTILE_TITLE = '<script>alert("title")</script> notes';

let admin: TestAdmin;
let session: AdminSession;
let conversation: ConversationRow;
let manual: number;
let notes: number;

beforeAll(async () => {
  admin = await startTestAdmin();
  session = await admin.login();
  const { conversations, experiences, knowledge } = admin.rt.deps;
  const homelab = await experiences.require('homelab');
  manual = (await knowledge!.addText(homelab.id, 'DS920+ manual', 'Hold RESET for 4 seconds.', 'admin')).id;
  notes = (await knowledge!.addText(homelab.id, HOSTILE_TITLE, 'The NAS is in the hall cupboard.', 'admin')).id;
  conversation = await conversations.create({ platform: 'discord', channelId: 'c-9', threadId: 't-9' }, homelab.id, 'discord:u1');
  const question = await conversations.append(conversation.id, { role: 'user', content: 'how do I reset the nas?', authorId: 'u1', authorName: 'Ada' });
  const answer = await conversations.append(conversation.id, { role: 'assistant', content: 'Hold RESET for 4 seconds [1]; it is in the hall [2].', model: 'openai/gpt-4o-mini', status: 'complete' }, question.id);
  await conversations.recordSources(answer.id, [
    { n: 1, documentId: manual, title: 'DS920+ manual', fileName: 'ds920.pdf', pageStart: 3, pageEnd: 3, headings: ['Resetting'] },
    { n: 2, documentId: notes, title: HOSTILE_TITLE, fileName: HOSTILE_TITLE, pageStart: null, pageEnd: null, headings: [] },
  ]);
});
afterAll(async () => {
  await admin.close();
});

describe('conversation page with citations', () => {
  it('should link each cited source to the document at its page, labelled with title, file, pages and headings', async () => {
    const page = await session.get(`/conversations/${conversation.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(`<a href="/knowledge/documents/${manual}?page=3#page-3">[1] DS920+ manual (ds920.pdf), p. 3 › Resetting</a>`);
    // no page: the document itself
    expect(page.body).toContain(`<a href="/knowledge/documents/${notes}">[2] &lt;script&gt;`);
  });

  it('should show a cited title as text, never as markup', async () => {
    const page = await session.get(`/conversations/${conversation.id}`);
    expect(page.body).toContain('&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt; notes');
    expect(page.body).not.toContain('<script>alert');
  });

  it('should reach the cited page from the link', async () => {
    const target = await session.get(`/knowledge/documents/${manual}?page=3`);
    expect(target.statusCode).toBe(200);
    expect(target.body).toContain('Hold RESET for 4 seconds.');
  });

  it('should list the cited sources under the answer in the Markdown export and keep them in the JSON export', async () => {
    const md = (await session.get(`/conversations/${conversation.id}/export.md`)).body;
    expect(md).toContain('Hold RESET for 4 seconds [1]; it is in the hall [2].\n\nSources:\n\n- [1] DS920+ manual (ds920.pdf), p. 3 › Resetting\n- [2] <script>');
    const json = JSON.parse((await session.get(`/conversations/${conversation.id}/export.json`)).body) as { messages: Array<Record<string, unknown>> };
    expect(json.messages[1]!.sources).toEqual([
      { n: 1, documentId: manual, title: 'DS920+ manual', fileName: 'ds920.pdf', pageStart: 3, pageEnd: 3, headings: ['Resetting'] },
      { n: 2, documentId: notes, title: HOSTILE_TITLE, fileName: HOSTILE_TITLE, pageStart: null, pageEnd: null, headings: [] },
    ]);
    expect(json.messages[0]).not.toHaveProperty('sources');
  });
});
