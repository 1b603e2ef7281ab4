import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiToken } from '../../src/core/api-tokens.js';
import type { ToolDefinition, ToolOutput, ToolSource } from '../../src/core/tools/types.js';
import { startTestAdmin, type TestAdmin } from '../support/admin.js';

// Tools behind the OpenAI-compatible API: the Experience's auto tools run on the server, tools
// that need a person's yes are not offered (nobody reads an API stream who could answer), and a
// client's own `tools` are refused with a message instead of being silently ignored.

let admin: TestAdmin;
let client: OpenAI;
const ran: string[] = [];

const tool = (sourceName: string, readOnly: boolean): ToolDefinition => ({
  name: `lab__${sourceName}`, title: `lab › ${sourceName}`, source: 'lab', sourceName, readOnly,
  description: sourceName, inputSchema: { type: 'object', properties: {} },
});

const lab: ToolSource = {
  name: 'lab',
  tools: () => [tool('list_machines', true), tool('reboot_machine', false)],
  async call(def): Promise<ToolOutput> {
    ran.push(def.sourceName);
    return { text: 'nas: up, proxmox: down', isError: false };
  },
};

beforeEach(async () => {
  ran.length = 0;
  admin = await startTestAdmin({ config: (c) => ({ ...c, utilityModel: 'anthropic/claude-haiku-4-5' }) });
  admin.rt.deps.tools!.put(lab);
  await admin.rt.deps.experiences.update('homelab', { tools: { sources: ['lab'] } });
  await admin.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = admin.app.server.address() as { port: number };
  const { token } = await createApiToken(admin.rt.deps.db, 'client');
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: token, maxRetries: 0 });
});

afterEach(async () => {
  await admin.close();
});

const answerRequests = () => admin.rt.openai.chatRequests().filter((r) => !String(r.body.messages?.[0]?.content).startsWith('Write a title'));

describe('OpenAI-compatible API with tools', () => {
  it('runs the Experience\'s auto tools on the server and streams the answer made with them', async () => {
    admin.rt.openai.script({ toolCalls: [{ id: 'c1', name: 'lab__list_machines', arguments: {} }] }, { answer: 'proxmox is down.' });
    const stream = await client.chat.completions.create({ model: 'experience/homelab', stream: true, messages: [{ role: 'user', content: 'what is down?' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(ran).toEqual(['list_machines']);
    expect(text).toContain('proxmox is down.');
    // the status line shown to chat users while a tool runs never reaches an append-only stream
    expect(text).not.toContain('…');
    const offered = answerRequests()[0]!.body.tools.map((t: { function: { name: string } }) => t.function.name);
    expect(offered).toEqual(['lab__list_machines']);
  });

  it('refuses tools sent by the client, naming the parameter', async () => {
    const error = await client.chat.completions
      .create({ model: 'experience/homelab', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'x', parameters: { type: 'object' } } }] })
      .then(() => null, (err: unknown) => err);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('tools');
    expect((error as Error).message).toContain('run on the server');
    expect(answerRequests()).toHaveLength(0);
  });
});
