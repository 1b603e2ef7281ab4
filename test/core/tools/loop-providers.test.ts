import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_EXPERIENCE_SLUG } from '../../../src/core/experiences/service.js';
import type { ToolDefinition, ToolOutput, ToolSource } from '../../../src/core/tools/types.js';
import type { FakeProviderServer } from '../../fakes/providers.js';
import { RecordingReply, command, inbound } from '../../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../../support/runtime.js';

// One tool turn on each provider, through its real SDK and a fake speaking its wire format: the
// call streamed in fragments, the tool run, its result sent back in that provider's shape, the
// answer made with it. What differs between providers is written down once per subject.

interface Subject {
  model: string;
  fake: (rt: TestRuntime) => FakeProviderServer;
  /** the result as the second request carried it */
  resultSent: (body: any) => { id: unknown; content: unknown };
}

const SUBJECTS: Record<string, Subject> = {
  openai: {
    model: 'openai/gpt-4o-mini',
    fake: (rt) => rt.openai,
    resultSent: (body) => {
      const m = body.messages.find((x: { role: string }) => x.role === 'tool');
      return { id: m.tool_call_id, content: m.content };
    },
  },
  anthropic: {
    model: 'anthropic/claude-haiku-4-5',
    fake: (rt) => rt.anthropic,
    resultSent: (body) => {
      const block = body.messages.flatMap((m: { content: unknown }) => (Array.isArray(m.content) ? m.content : [])).find((b: { type: string }) => b.type === 'tool_result');
      return { id: block.tool_use_id, content: typeof block.content === 'string' ? block.content : block.content?.[0]?.text };
    },
  },
  ollama: {
    model: 'ollama/llama3.2',
    fake: (rt) => rt.ollama,
    resultSent: (body) => {
      const m = body.messages.find((x: { role: string }) => x.role === 'tool');
      return { id: m.tool_name, content: m.content };
    },
  },
};

const clock: ToolSource = {
  name: 'clock',
  tools: (): ToolDefinition[] => [{
    name: 'clock__now', title: 'clock › now', source: 'clock', sourceName: 'now', readOnly: true,
    description: 'The time in a zone', inputSchema: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
  }],
  call: async (_tool, args): Promise<ToolOutput> => ({ text: `12:00 in ${String(args.zone)}`, isError: false }),
};

let rt: TestRuntime;
beforeAll(async () => {
  rt = await startTestRuntime();
  rt.deps.tools!.put(clock);
  await rt.deps.experiences.update(DEFAULT_EXPERIENCE_SLUG, { tools: { sources: ['clock'] } });
});
afterAll(async () => {
  await rt.shutdown();
});

describe.each(Object.entries(SUBJECTS))('a tool turn on %s', (name, subject) => {
  it('should assemble the streamed call, run the tool and answer with its result', async () => {
    const fake = subject.fake(rt);
    const channelId = `dm-${name}`;
    await rt.engine.handle(command('model', subject.model, { channelId }), new RecordingReply());
    const before = fake.chatRequests().length;
    fake.script(
      { toolCalls: [{ id: 'call_now', name: 'clock__now', arguments: { zone: 'Europe/Oslo' } }], chunkSize: 3 },
      { answer: 'It is noon in Oslo.' },
    );
    const reply = new RecordingReply();
    await rt.engine.handle(inbound('what time is it in Oslo?', { channelId }), reply);

    expect(reply.transcript).toContain('It is noon in Oslo.');
    expect(reply.transcript).toContain('🔧 clock › now');
    const [first, second] = fake.chatRequests().slice(before);
    expect(JSON.stringify(first!.body.tools)).toContain('clock__now');
    const sent = subject.resultSent(second!.body);
    expect(sent.content).toBe('12:00 in Europe/Oslo');
    const conversation = await rt.deps.db.selectFrom('conversations').selectAll().where('channel_id', '=', channelId).executeTakeFirstOrThrow();
    const nodes = await rt.deps.db.selectFrom('messages').selectAll().where('conversation_id', '=', conversation.id).orderBy('id').execute();
    expect(nodes.map((n) => n.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    const call = JSON.parse(nodes[1]!.tool_calls!)[0];
    expect(JSON.parse(call.arguments)).toEqual({ zone: 'Europe/Oslo' });
    // the result is sent under the id the call came with (Ollama names the tool instead)
    expect(sent.id).toBe(name === 'ollama' ? 'clock__now' : call.id);
    expect(nodes[3]).toMatchObject({ content: 'It is noon in Oslo.', model: subject.model, status: 'complete' });
  });
});
