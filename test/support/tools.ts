import { DEFAULT_EXPERIENCE_SLUG } from '../../src/core/experiences/service.js';
import type { ToolPolicy } from '../../src/core/tools/policy.js';
import type { ToolCallContext, ToolDefinition, ToolOutput, ToolSource } from '../../src/core/tools/types.js';
import type { FakeBehaviour } from '../fakes/providers/types.js';
import type { TestRuntime } from './runtime.js';

/**
 * A homelab as a tool source: `list_machines` reads (auto), `reboot_machine` changes things
 * (confirm), `hang` never answers until its call is stopped.
 */
export class Homelab implements ToolSource {
  readonly name = 'homelab';
  readonly calls: Array<{ tool: string; args: Record<string, unknown>; user: string }> = [];
  /** set while a `hang` call runs; `aborted` resolves when its signal fires */
  hanging: { aborted: Promise<void> } | null = null;

  tools(): ToolDefinition[] {
    const def = (sourceName: string, readOnly: boolean, description: string): ToolDefinition => ({
      name: `homelab__${sourceName}`, title: `homelab › ${sourceName}`, source: 'homelab', sourceName, readOnly, description,
      inputSchema: { type: 'object', properties: { name: { type: 'string' } } },
    });
    return [def('list_machines', true, 'List the machines and whether they are up'), def('reboot_machine', false, 'Reboot one machine'), def('hang', true, 'Never answers')];
  }

  async call(tool: ToolDefinition, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolOutput> {
    this.calls.push({ tool: tool.sourceName, args, user: context.caller.userId });
    if (tool.sourceName === 'list_machines') return { text: 'nas: up\nproxmox: down\nrouter: up', isError: false };
    if (tool.sourceName === 'reboot_machine') return { text: `rebooting ${String(args.name)}`, isError: false };
    let aborted!: () => void;
    this.hanging = { aborted: new Promise<void>((resolve) => (aborted = resolve)) };
    return new Promise<ToolOutput>((resolve) => {
      context.signal.addEventListener('abort', () => {
        aborted();
        resolve({ text: 'cut', isError: true });
      }, { once: true });
    });
  }
}

/** Puts a fresh Homelab into the runtime and lets the default Experience use it with this policy. */
export async function withHomelab(rt: TestRuntime, policy: Partial<ToolPolicy> = {}): Promise<Homelab> {
  const homelab = new Homelab();
  rt.deps.tools!.put(homelab);
  await rt.deps.experiences.update(DEFAULT_EXPERIENCE_SLUG, { tools: { sources: ['homelab'], ...policy } });
  return homelab;
}

/** The model's scripts for each case: a call, then the answer written from its result. */
export const SCRIPTS: Record<'list' | 'reboot' | 'hang', FakeBehaviour[]> = {
  list: [{ toolCalls: [{ id: 'call_list', name: 'homelab__list_machines', arguments: {} }] }, { answer: 'proxmox is down; nas and router are up.' }],
  reboot: [{ toolCalls: [{ id: 'call_reboot', name: 'homelab__reboot_machine', arguments: { name: 'proxmox' } }] }, { answer: 'Done with proxmox.' }],
  hang: [{ toolCalls: [{ id: 'call_hang', name: 'homelab__hang', arguments: {} }] }, { answer: 'never asked' }],
};

/** The stored result of the turn's tool call: what the model was told happened. */
export async function toolResults(rt: TestRuntime): Promise<Array<{ content: string; meta: { status: string; approvedBy: string | null } }>> {
  const rows = await rt.deps.db.selectFrom('messages').selectAll().where('role', '=', 'tool').orderBy('id').execute();
  return rows.map((r) => ({ content: r.content, meta: JSON.parse(r.tool_meta!) }));
}

/** Polls until the turn's tool results are stored (a stopped turn writes them as it ends). */
export async function storedToolResults(rt: TestRuntime, timeoutMs = 15_000): ReturnType<typeof toolResults> {
  const start = Date.now();
  for (;;) {
    const results = await toolResults(rt);
    if (results.length) return results;
    if (Date.now() - start > timeoutMs) throw new Error(`no tool result stored within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
