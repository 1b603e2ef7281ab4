import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConversationRow } from '../../src/core/conversations/table.js';
import { startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';

/** A turn that called tools, as the admin's conversation page and the exports show it. */

const OUTPUT = '<script>alert("tool output")</script>\nnas\nproxmox';

let admin: TestAdmin;
let session: AdminSession;
let conversation: ConversationRow;

beforeAll(async () => {
  admin = await startTestAdmin();
  session = await admin.login();
  const { conversations, experiences } = admin.rt.deps;
  const homelab = await experiences.require('homelab');
  conversation = await conversations.create({ platform: 'discord', channelId: 'c-7', threadId: 't-7' }, homelab.id, 'discord:u1');
  const question = await conversations.append(conversation.id, { role: 'user', content: 'reboot the nas', authorId: 'u1', authorName: 'Ada' });
  const asks = await conversations.append(conversation.id, { role: 'assistant', content: 'Let me look first.', model: 'openai/gpt-4o-mini', status: 'complete' }, question.id);
  await conversations.recordToolCalls(asks.id, [
    { id: 'call-1', name: 'homelab__list_machines', arguments: '{}' },
    { id: 'call-2', name: 'homelab__reboot_machine', arguments: '{"name":"nas","force":false}' },
  ]);
  const [, second] = await conversations.appendToolResults(conversation.id, asks.id, [
    {
      callId: 'call-1', toolName: 'homelab__list_machines', content: OUTPUT,
      meta: { title: 'homelab › list_machines', source: 'homelab', status: 'ok', durationMs: 42, approvedBy: null },
    },
    {
      callId: 'call-2', toolName: 'homelab__reboot_machine', content: 'rebooting nas',
      meta: { title: 'homelab › reboot_machine', source: 'homelab', status: 'ok', durationMs: 1234, approvedBy: 'discord:u2' },
    },
  ]);
  await conversations.append(conversation.id, { role: 'assistant', content: 'The NAS is rebooting.', model: 'openai/gpt-4o-mini', status: 'complete' }, second!.id);
});
afterAll(async () => {
  await admin.close();
});

describe('conversation page with tool calls', () => {
  it('should show each call with its arguments and each result with status, duration and who approved it', async () => {
    const page = await session.get(`/conversations/${conversation.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('called <strong>homelab › reboot_machine</strong> <small>(<code>homelab__reboot_machine</code>)</small>');
    expect(page.body).toContain('{\n  &quot;name&quot;: &quot;nas&quot;,\n  &quot;force&quot;: false\n}');
    expect(page.body).toContain('<strong>tool result: homelab › reboot_machine</strong>');
    expect(page.body).toContain('<span class="badge">ok</span> · homelab · 1234 ms · approved by discord:u2');
    expect(page.body).toContain('42 ms · ran without approval');
    expect(page.body).toContain('<pre class="tool-text">rebooting nas</pre>');
  });

  it('should show tool output as text, never as markup', async () => {
    const page = await session.get(`/conversations/${conversation.id}`);
    expect(page.body).toContain('&lt;script&gt;alert(&quot;tool output&quot;)&lt;/script&gt;');
    expect(page.body).not.toContain('<script>alert');
  });

  it('should mark tool calls and results in the Markdown export and keep their fields in the JSON export', async () => {
    const md = (await session.get(`/conversations/${conversation.id}/export.md`)).body;
    expect(md).toContain('> **Tool call** `homelab__reboot_machine`\n\n```json\n{"name":"nas","force":false}\n```');
    expect(md).toContain('> **Tool result** `homelab › reboot_machine` — ok, 1234 ms, approved by discord:u2\n\n```text\nrebooting nas\n```');
    const json = JSON.parse((await session.get(`/conversations/${conversation.id}/export.json`)).body) as { messages: Array<Record<string, unknown>> };
    expect(json.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant']);
    expect(json.messages[1]!.toolCalls).toEqual([
      { id: 'call-1', name: 'homelab__list_machines', arguments: '{}' },
      { id: 'call-2', name: 'homelab__reboot_machine', arguments: '{"name":"nas","force":false}' },
    ]);
    expect(json.messages[3]).toMatchObject({
      toolCallId: 'call-2', toolName: 'homelab__reboot_machine', content: 'rebooting nas',
      toolMeta: { title: 'homelab › reboot_machine', source: 'homelab', status: 'ok', durationMs: 1234, approvedBy: 'discord:u2' },
    });
    expect(json.messages[0]).not.toHaveProperty('toolCalls');
  });
});
