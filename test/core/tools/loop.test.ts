import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_EXPERIENCE_SLUG } from '../../../src/core/experiences/service.js';
import type { ToolPolicy } from '../../../src/core/tools/policy.js';
import { RecordingReply, command, inbound } from '../../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../../support/runtime.js';
import { Homelab } from '../../support/tools.js';
import { answerRequests, until } from '../../support/wait.js';

let rt: TestRuntime;
let homelab: Homelab;

async function useTools(policy: Partial<ToolPolicy>): Promise<void> {
  await rt.deps.experiences.update(DEFAULT_EXPERIENCE_SLUG, { tools: { sources: ['homelab'], ...policy } });
}

async function nodes() {
  return rt.deps.db.selectFrom('messages').selectAll().orderBy('id').execute();
}

beforeEach(async () => {
  rt = await startTestRuntime();
  homelab = new Homelab();
  rt.deps.tools!.put(homelab);
});
afterEach(async () => {
  await rt.shutdown();
});

describe('the tool loop', () => {
  it('should run a read-only tool, give its result to the model and answer with it, keeping call and result in the tree', async () => {
    await useTools({});
    rt.openai.script(
      { toolCalls: [{ id: 'call_1', name: 'homelab__list_machines', arguments: {} }], usage: { input: 200, output: 10 } },
      { answer: 'proxmox is down; nas and router are up.', usage: { input: 260, output: 12 } },
    );
    const reply = new RecordingReply();
    await rt.engine.handle(inbound('which machines are down?'), reply);

    expect(homelab.calls).toEqual([{ tool: 'list_machines', args: {}, user: 'ada' }]);
    const answer = reply.messages.find((m) => m.text.includes('proxmox is down'))!;
    expect(answer.text).toContain('🔧 homelab › list_machines');

    const [first, second] = answerRequests(rt);
    expect(first!.body.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual(['homelab__list_machines', 'homelab__reboot_machine', 'homelab__hang']);
    const sent = second!.body.messages.slice(-2);
    expect(sent[0]).toMatchObject({ role: 'assistant', tool_calls: [{ id: 'call_1', function: { name: 'homelab__list_machines' } }] });
    expect(sent[1]).toMatchObject({ role: 'tool', tool_call_id: 'call_1', content: 'nas: up\nproxmox: down\nrouter: up' });

    const [question, asked, result, final] = await nodes();
    expect(asked).toMatchObject({ role: 'assistant', parent_id: question!.id });
    expect(JSON.parse(asked!.tool_calls!)).toEqual([{ id: 'call_1', name: 'homelab__list_machines', arguments: '{}' }]);
    expect(result).toMatchObject({ role: 'tool', parent_id: asked!.id, tool_call_id: 'call_1', tool_name: 'homelab__list_machines' });
    expect(JSON.parse(result!.tool_meta!)).toMatchObject({ title: 'homelab › list_machines', source: 'homelab', status: 'ok', approvedBy: null });
    expect(final).toMatchObject({ role: 'assistant', parent_id: result!.id, content: 'proxmox is down; nas and router are up.' });
    const chatRows = await rt.deps.db.selectFrom('usage_events').selectAll().where('purpose', '=', 'chat').orderBy('id').execute();
    expect(chatRows.map((r) => [r.tokens_in, r.message_id])).toEqual([[200, asked!.id], [260, final!.id]]);
  });

  it('should offer no tools when the Experience names no source', async () => {
    rt.openai.script({ answer: 'no tools here' });
    await rt.engine.handle(inbound('hi'), new RecordingReply());
    expect(answerRequests(rt)[0]!.body.tools).toBeUndefined();
  });

  it('should keep a call and its results together in the next turns and regenerate the whole turn', async () => {
    await useTools({});
    rt.openai.script(
      { toolCalls: [{ id: 'call_a', name: 'homelab__list_machines', arguments: {} }] },
      { answer: 'proxmox is down.' },
      { answer: 'Reboot it from the web UI.' },
    );
    const reply = new RecordingReply();
    await rt.engine.handle(inbound('which machines are down?'), reply);
    await rt.engine.handle(inbound('what should I do?'), reply);
    const third = answerRequests(rt)[2]!.body.messages;
    const roles = third.map((m: { role: string }) => m.role);
    expect(roles).toEqual(['system', 'user', 'assistant', 'tool', 'assistant', 'user']);

    // regenerate the first turn's answer: a new branch under the question, not under the tool result
    rt.openai.script({ answer: 'Proxmox looks down.' });
    const before = await nodes();
    const finalAnswer = before.find((n) => n.content === 'proxmox is down.')!;
    await rt.engine.regenerate(finalAnswer.id, inbound('', { kind: 'action' }), reply);
    const regenerated = (await nodes()).find((n) => n.content === 'Proxmox looks down.')!;
    expect(regenerated.parent_id).toBe(before[0]!.id);
    const { siblings } = await rt.deps.conversations.branchPointOf(regenerated.id);
    expect(siblings).toHaveLength(2);
    // ◀ shows the first branch by the answer its turn ended with
    expect((await rt.deps.conversations.answerOf(siblings[0]!))!.content).toBe('proxmox is down.');
  });

  it('should run parallel calls of one round and store their results in the order asked', async () => {
    await useTools({});
    rt.openai.script(
      { toolCalls: [{ id: 'c1', name: 'homelab__list_machines', arguments: {} }, { id: 'c2', name: 'homelab__nonexistent', arguments: {} }] },
      { answer: 'done' },
    );
    await rt.engine.handle(inbound('check'), new RecordingReply());
    const results = (await nodes()).filter((n) => n.role === 'tool');
    expect(results.map((r) => r.tool_call_id)).toEqual(['c1', 'c2']);
    expect(results[1]!.content).toContain('no tool named "homelab__nonexistent"');
    const sent = answerRequests(rt)[1]!.body.messages.filter((m: { role: string }) => m.role === 'tool');
    expect(sent.map((m: { tool_call_id: string }) => m.tool_call_id)).toEqual(['c1', 'c2']);
  });

  it('should stop at the round limit and say so', async () => {
    await useTools({ maxRounds: 1 });
    const again = { toolCalls: [{ id: 'again', name: 'homelab__list_machines', arguments: {} }] };
    rt.openai.script(again, { ...again, answer: 'let me look once more' });
    const reply = new RecordingReply();
    await rt.engine.handle(inbound('loop forever'), reply);
    expect(homelab.calls).toHaveLength(1);
    expect(reply.transcript).toContain('Stopped after 1 rounds of tool calls');
  });

  it('should tell the model when the arguments are not JSON, without running the tool', async () => {
    await useTools({});
    rt.openai.script({ toolCalls: [{ id: 'bad', name: 'homelab__list_machines', arguments: '{"name": ' }] }, { answer: 'sorry' });
    await rt.engine.handle(inbound('list'), new RecordingReply());
    expect(homelab.calls).toHaveLength(0);
    const result = (await nodes()).find((n) => n.role === 'tool')!;
    expect(result.content).toContain('not valid JSON');
  });

  describe('approvals', () => {
    it('should ask before a tool that is not read-only, and run it once the asker approves', async () => {
      await useTools({});
      rt.openai.script({ toolCalls: [{ id: 'r1', name: 'homelab__reboot_machine', arguments: { name: 'proxmox' } }] }, { answer: 'Rebooting proxmox.' });
      const reply = new RecordingReply();
      const turn = rt.engine.handle(inbound('reboot proxmox'), reply);
      const request = await until(() => reply.messages.find((m) => m.text.includes('wants to run')));
      expect(request.text).toContain('homelab › reboot_machine');
      expect(request.text).toContain('"name": "proxmox"');
      expect(request.options.buttons?.map((b) => b.action)).toEqual(['approve', 'deny']);
      expect(homelab.calls).toHaveLength(0);

      // someone else may not answer it
      const bob = new RecordingReply();
      await rt.engine.handle(inbound('', { kind: 'action', action: { name: 'approve', targetMessageId: request.id }, author: { id: 'bob', name: 'Bob', isBot: false } }), bob);
      expect(bob.last()).toMatchObject({ private: true });
      expect(bob.last().text).toContain('Only Ada');
      expect(homelab.calls).toHaveLength(0);

      await rt.engine.handle(inbound('', { kind: 'action', action: { name: 'approve', targetMessageId: request.id } }), reply);
      await turn;
      expect(homelab.calls).toEqual([{ tool: 'reboot_machine', args: { name: 'proxmox' }, user: 'ada' }]);
      expect(request.text).toContain('✅ Approved by Ada');
      expect(request.options.buttons).toEqual([]);
      const meta = JSON.parse((await nodes()).find((n) => n.role === 'tool')!.tool_meta!);
      expect(meta).toMatchObject({ status: 'ok', approvedBy: 'test:ada' });
      const audit = await rt.deps.db.selectFrom('audit_log').selectAll().where('action', '=', 'tool.approved').execute();
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ actor: 'test:ada' });
      expect(audit[0]!.detail).toContain('"name":"proxmox"');
    });

    it('should not run a tool the asker denies (typed), and tell the model it was denied', async () => {
      await useTools({});
      rt.openai.script({ toolCalls: [{ id: 'r2', name: 'homelab__reboot_machine', arguments: { name: 'nas' } }] }, { answer: 'OK, I will not reboot it.' });
      const reply = new RecordingReply();
      const turn = rt.engine.handle(inbound('reboot nas'), reply);
      await until(() => reply.messages.find((m) => m.text.includes('wants to run')));
      await rt.engine.handle(command('deny'), new RecordingReply());
      await turn;
      expect(homelab.calls).toHaveLength(0);
      const toModel = answerRequests(rt)[1]!.body.messages.at(-1);
      expect(toModel).toMatchObject({ role: 'tool', tool_call_id: 'r2' });
      expect(toModel.content).toContain('denied');
      expect(reply.transcript).toContain('❌ Denied by Ada');
    });

    it('should deny when nobody answers in time', async () => {
      await useTools({ approvalTimeoutMs: 1_000 });
      rt.openai.script({ toolCalls: [{ id: 'r3', name: 'homelab__reboot_machine', arguments: { name: 'router' } }] }, { answer: 'Nobody approved.' });
      const reply = new RecordingReply();
      await rt.engine.handle(inbound('reboot router'), reply);
      expect(homelab.calls).toHaveLength(0);
      expect(reply.transcript).toContain('No answer within 1 s: denied');
      const audit = await rt.deps.db.selectFrom('audit_log').selectAll().where('action', '=', 'tool.timeout').execute();
      expect(audit).toHaveLength(1);
    });

    it('should run a tool set to auto without asking, and never offer one set to off', async () => {
      await useTools({ modes: { homelab__reboot_machine: 'auto', homelab__hang: 'off' } });
      rt.openai.script({ toolCalls: [{ id: 'r4', name: 'homelab__reboot_machine', arguments: { name: 'nas' } }] }, { answer: 'Rebooted.' });
      const reply = new RecordingReply();
      await rt.engine.handle(inbound('reboot nas'), reply);
      expect(homelab.calls).toHaveLength(1);
      expect(reply.transcript).not.toContain('wants to run');
      expect(answerRequests(rt)[0]!.body.tools.map((t: { function: { name: string } }) => t.function.name)).not.toContain('homelab__hang');
    });
  });

  it('should cut a tool that runs past its time and give the model the reason', async () => {
    await useTools({ timeoutMs: 1_000 });
    rt.openai.script({ toolCalls: [{ id: 'h1', name: 'homelab__hang', arguments: {} }] }, { answer: 'It timed out.' });
    await rt.engine.handle(inbound('hang'), new RecordingReply());
    const result = (await nodes()).find((n) => n.role === 'tool')!;
    expect(result.content).toContain('did not answer within 1 s');
    expect(JSON.parse(result.tool_meta!)).toMatchObject({ status: 'timeout' });
  });

  it('should stop a running tool and the loop with Stop', async () => {
    await useTools({});
    rt.openai.script({ toolCalls: [{ id: 'h2', name: 'homelab__hang', arguments: {} }] }, { answer: 'never asked' });
    const reply = new RecordingReply();
    const turn = rt.engine.handle(inbound('hang'), reply);
    await until(() => homelab.hanging);
    // while it runs, the answer says so
    await until(() => reply.messages.find((m) => m.text.includes('🔧 homelab › hang …')));
    await rt.engine.handle(command('stop'), new RecordingReply());
    await homelab.hanging!.aborted;
    await turn;
    expect(answerRequests(rt)).toHaveLength(1);
    const result = (await nodes()).find((n) => n.role === 'tool')!;
    expect(JSON.parse(result.tool_meta!)).toMatchObject({ status: 'stopped' });
    expect(reply.transcript).not.toContain('🔧 homelab › hang …');
  });
});
