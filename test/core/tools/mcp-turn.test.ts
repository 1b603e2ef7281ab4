import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_EXPERIENCE_SLUG } from '../../../src/core/experiences/service.js';
import { mcpServersSchema } from '../../../src/core/tools/mcp/config.js';
import { homelabServer } from '../../fakes/mcp/support.js';
import { RecordingReply, inbound } from '../../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../../support/runtime.js';
import { answerRequests, until } from '../../support/wait.js';

// A chat turn through a real MCP server over stdio, configured as a user would in mcp.servers:
// the runtime starts it, the Experience offers its tools, the model's call reaches it.

let rt: TestRuntime;
beforeEach(async () => {
  // as the config file would give it
  const servers = mcpServersSchema.parse({ homelab: { ...homelabServer(), timeoutMs: 10_000 } });
  rt = await startTestRuntime({ config: (c) => ({ ...c, mcp: { servers } }) });
  await until(() => rt.mcp.status().find((s) => s.state === 'connected'), 20_000);
  await rt.deps.experiences.update(DEFAULT_EXPERIENCE_SLUG, { tools: { sources: ['homelab'] } });
});
afterEach(async () => {
  await rt.shutdown();
});

describe('a turn with an MCP server', () => {
  it('should offer the server\'s tools and answer from what its read-only tool returned', async () => {
    rt.openai.script({ toolCalls: [{ id: 'm1', name: 'homelab__list_machines', arguments: {} }] }, { answer: 'All three are listed.' });
    const reply = new RecordingReply();
    await rt.engine.handle(inbound('which machines do I have?'), reply);
    const [first, second] = answerRequests(rt);
    const offered = first!.body.tools.map((t: { function: { name: string } }) => t.function.name);
    expect(offered).toContain('homelab__list_machines');
    expect(offered).toContain('homelab__reboot_machine');
    const result = second!.body.messages.find((m: { role: string }) => m.role === 'tool');
    expect(result.content).toMatch(/nas/);
    expect(reply.transcript).toContain('All three are listed.');
    expect(reply.transcript).toContain('homelab › list_machines');
  });

  it('should give the model an error and keep the server running when a call dies with the server', async () => {
    await rt.deps.experiences.update(DEFAULT_EXPERIENCE_SLUG, { tools: { sources: ['homelab'], modes: { homelab__crash: 'auto' } } });
    rt.openai.script({ toolCalls: [{ id: 'k1', name: 'homelab__crash', arguments: {} }] }, { answer: 'The server fell over.' });
    await rt.engine.handle(inbound('crash it'), new RecordingReply());
    const toModel = answerRequests(rt)[1]!.body.messages.find((m: { role: string }) => m.role === 'tool');
    expect(toModel.content).toMatch(/stopped|exited|closed|died/i);
    // restarted with backoff, and usable again
    await until(() => rt.mcp.status().find((s) => s.state === 'connected' && (s.failures ?? 0) >= 1), 20_000);
  });
});
