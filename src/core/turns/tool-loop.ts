import type { TurnBudget } from '../budgets/planning.js';
import type { MessageRow, StoredToolCall, ToolRunMeta } from '../conversations/table.js';
import type { Reply } from '../inbound.js';
import type { ModelChoice } from '../providers/model-choice.js';
import type { StreamOutcome } from '../providers/router.js';
import type { ChatMessage, GenerationParams, ToolCall, ToolSpec } from '../providers/types.js';
import type { StreamRenderer } from '../stream.js';
import type { ToolPolicy } from '../tools/policy.js';
import type { OfferedTool, ToolRun } from '../tools/registry.js';
import type { ToolCaller } from '../tools/types.js';
import { userKey } from '../identity.js';
import { promptTokenEstimate, type UsageContext } from '../usage/ledger.js';
import { streamAnswer } from './answer-stream.js';
import type { EngineDeps } from './deps.js';

export interface ToolLoopRequest {
  conversationId: number;
  /** the user message the turn answers */
  parentId: number;
  choice: Pick<ModelChoice, 'modelId' | 'candidates'>;
  messages: ChatMessage[];
  params: GenerationParams;
  signal: AbortSignal;
  renderer: StreamRenderer;
  reply: Reply;
  usage: Omit<UsageContext, 'purpose' | 'messageId'>;
  promptEstimate: number;
  budget: TurnBudget | null;
  /** the tools this turn may offer; empty: one plain answer */
  offered: OfferedTool[];
  policy: ToolPolicy;
  caller: ToolCaller;
}

/** One tool call of the turn, for the line under the answer. */
export interface ToolUse {
  title: string;
  status: ToolRunMeta['status'];
  durationMs: number;
}

export interface ToolLoopResult {
  /** the node the turn ended with: the answer shown */
  answer: MessageRow;
  outcome: StreamOutcome;
  tools: ToolUse[];
  /** the model still asked for tools when the rounds ran out */
  stoppedAtLimit: boolean;
}

/**
 * Step 5 as a loop: the model answers, or asks for tools; the tools run (in parallel, each within
 * its time, `confirm` ones after a person's yes); their results go back to the model; again, up
 * to the policy's rounds. Each answer and each result is a node on the branch (call and result
 * stay together for context windowing), each provider call its own usage row, and the budgets
 * hold before every round.
 */
export async function runToolLoop(deps: EngineDeps, request: ToolLoopRequest): Promise<ToolLoopResult> {
  const specs: ToolSpec[] = request.offered.map(({ tool }) => ({ name: tool.name, description: tool.description, inputSchema: tool.inputSchema }));
  const byName = new Map(request.offered.map((o) => [o.tool.name, o]));
  const messages = [...request.messages];
  const tools: ToolUse[] = [];
  const shown = new RoundText(request.renderer);
  let parentId = request.parentId;
  let promptEstimate = request.promptEstimate;
  for (let round = 0; ; round++) {
    // every round is a new provider call: it must fit the budgets like the first did
    if (round > 0) await request.budget?.reserve(promptEstimate);
    const { answer, outcome } = await streamAnswer(deps, {
      conversationId: request.conversationId, parentId, choice: request.choice, messages, params: request.params,
      signal: request.signal, onText: (delta) => shown.push(delta), usage: request.usage, promptEstimate,
      ...(specs.length ? { tools: specs } : {}),
    });
    const calls = outcome.status === 'ok' ? outcome.toolCalls : [];
    if (calls.length === 0) return { answer, outcome, tools, stoppedAtLimit: false };
    if (round >= request.policy.maxRounds) return { answer, outcome, tools, stoppedAtLimit: true };

    const stored: StoredToolCall[] = calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
    await deps.conversations.recordToolCalls(answer.id, stored);
    shown.endRound();
    const runs = await runCalls(deps, request, calls, byName);
    messages.push({ role: 'assistant', content: outcome.text, toolCalls: stored });
    const nodes = await deps.conversations.appendToolResults(
      request.conversationId, answer.id,
      calls.map((call, i) => ({ callId: call.id, toolName: call.name, content: runs[i]!.run.output.text, meta: runs[i]!.meta })),
    );
    parentId = nodes.at(-1)!.id;
    for (const [i, call] of calls.entries()) {
      const { run, meta } = runs[i]!;
      messages.push({ role: 'tool', content: run.output.text, toolCallId: call.id, toolName: call.name, isError: run.output.isError });
      tools.push({ title: meta.title, status: meta.status, durationMs: meta.durationMs });
    }
    promptEstimate = promptTokenEstimate(messages);
    if (request.signal.aborted) return { answer: await deps.conversations.message(answer.id), outcome: { ...outcome, status: 'aborted' }, tools, stoppedAtLimit: false };
  }
}

/** The calls of one round, at once; each ends as a result the model reads, whatever happened. */
async function runCalls(
  deps: EngineDeps,
  request: ToolLoopRequest,
  calls: ToolCall[],
  byName: Map<string, OfferedTool>,
): Promise<Array<{ run: ToolRun; meta: ToolRunMeta }>> {
  const running = new RunningLine(request.renderer);
  try {
    return await Promise.all(calls.map(async (call) => {
      const offered = byName.get(call.name);
      if (!offered || !deps.tools) {
        const run: ToolRun = { output: { text: `no tool named "${call.name}" is available here`, isError: true }, status: 'error', durationMs: 0 };
        return { run, meta: { title: call.name, source: 'unknown', status: 'error', durationMs: 0, approvedBy: null } };
      }
      const { tool, mode } = offered;
      const base = { title: tool.title, source: tool.source };
      const args = parseArguments(call.arguments);
      if (typeof args === 'string') {
        return { run: { output: { text: args, isError: true }, status: 'error', durationMs: 0 }, meta: { ...base, status: 'error', durationMs: 0, approvedBy: null } };
      }
      let approvedBy: string | null = null;
      if (mode === 'confirm') {
        const decision = deps.approvals
          ? await deps.approvals.ask({
            reply: request.reply, platform: request.caller.platform, conversationId: request.conversationId,
            asker: { key: userKey(request.caller.platform, request.caller.userId), name: request.caller.userName },
            tool, argumentsText: call.arguments, timeoutMs: request.policy.approvalTimeoutMs, signal: request.signal,
          })
          : ({ approved: false, by: null, byName: null, reason: 'unavailable' } as const);
        if (!decision.approved) {
          const text = decision.reason === 'timeout'
            ? 'not run: nobody approved it in time'
            : decision.reason === 'stopped' ? 'not run: the user stopped the answer'
              : decision.reason === 'unavailable' ? 'not run: this tool needs approval, which cannot be asked here'
                : `not run: ${decision.byName ?? 'the user'} denied it`;
          const status = decision.reason === 'stopped' ? 'stopped' : 'denied';
          return { run: { output: { text, isError: true }, status: 'error', durationMs: 0 }, meta: { ...base, status, durationMs: 0, approvedBy: null } };
        }
        approvedBy = decision.by;
      }
      const done = running.add(tool.title);
      const run = await deps.tools.run(tool, args, { caller: request.caller, signal: request.signal }, { timeoutMs: request.policy.timeoutMs, resultMaxChars: request.policy.resultMaxChars });
      done();
      const meta: ToolRunMeta = { ...base, status: run.status, durationMs: run.durationMs, approvedBy, ...(run.truncatedFrom === undefined ? {} : { truncatedFrom: run.truncatedFrom }) };
      return { run, meta };
    }));
  } finally {
    running.clear();
  }
}

/** The call's arguments as an object, or the line telling the model what was wrong with them. */
export function parseArguments(text: string): Record<string, unknown> | string {
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    return 'not run: the arguments must be a JSON object';
  } catch (err) {
    return `not run: the arguments are not valid JSON (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** The text of all rounds in one reply, a blank line between rounds that both said something. */
class RoundText {
  private wrote = false;
  private separate = false;

  constructor(private readonly renderer: StreamRenderer) {}

  push(delta: string): void {
    if (delta === '') return;
    if (this.separate && this.wrote) this.renderer.push('\n\n');
    this.separate = false;
    this.wrote = true;
    this.renderer.push(delta);
  }

  endRound(): void {
    this.separate = true;
  }
}

/** "🔧 proxmox › list_vms …" under the answer while tools run. */
class RunningLine {
  private readonly titles: string[] = [];

  constructor(private readonly renderer: StreamRenderer) {}

  add(title: string): () => void {
    this.titles.push(title);
    this.show();
    return () => {
      const at = this.titles.indexOf(title);
      if (at >= 0) this.titles.splice(at, 1);
      this.show();
    };
  }

  clear(): void {
    this.titles.length = 0;
    this.renderer.setStatus(null);
  }

  private show(): void {
    this.renderer.setStatus(this.titles.length ? `🔧 ${this.titles.join(', ')} …` : null);
  }
}
