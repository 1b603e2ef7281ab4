import type { ToolPolicy } from './policy.js';
import { toolMode } from './policy.js';
import type { ToolCallContext, ToolDefinition, ToolMode, ToolOutput, ToolSource } from './types.js';

/** A tool as one Experience offers it. */
export interface OfferedTool {
  tool: ToolDefinition;
  mode: Exclude<ToolMode, 'off'>;
}

/** One finished call, as the loop stores and reports it. */
export interface ToolRun {
  output: ToolOutput;
  status: 'ok' | 'error' | 'timeout' | 'stopped';
  durationMs: number;
  /** the length of the result before it was cut for the model */
  truncatedFrom?: number;
}

export interface RunLimits {
  timeoutMs: number;
  resultMaxChars: number;
}

/**
 * Every place tools come from (the built-ins, each MCP server), by name. Sources come and go at
 * run time (an MCP server added in the admin); the registry asks them for their tools each turn.
 */
export class ToolRegistry {
  private readonly sources = new Map<string, ToolSource>();

  put(source: ToolSource): void {
    this.sources.set(source.name, source);
  }

  remove(name: string): void {
    this.sources.delete(name);
  }

  source(name: string): ToolSource | undefined {
    return this.sources.get(name);
  }

  get sourceNames(): string[] {
    return [...this.sources.keys()];
  }

  /** Every tool every source offers now, whatever any Experience says. */
  all(): ToolDefinition[] {
    return [...this.sources.values()].flatMap((s) => s.tools());
  }

  /** The tools this policy offers the model, each with how it runs; `off` ones are not offered. */
  offered(policy: ToolPolicy): OfferedTool[] {
    if (policy.sources.length === 0) return [];
    const offered: OfferedTool[] = [];
    const seen = new Set<string>();
    for (const name of policy.sources) {
      for (const tool of this.sources.get(name)?.tools() ?? []) {
        const mode = toolMode(policy, tool);
        if (mode === 'off' || seen.has(tool.name)) continue;
        seen.add(tool.name);
        offered.push({ tool, mode });
      }
    }
    return offered;
  }

  /**
   * Runs one call within its time limit. Never rejects: a tool that throws, times out, or is
   * stopped ends as an error the model can read. The result is cut to the policy's size.
   */
  async run(tool: ToolDefinition, args: Record<string, unknown>, context: ToolCallContext, limits: RunLimits): Promise<ToolRun> {
    const started = performance.now();
    const source = this.sources.get(tool.source);
    const elapsed = (): number => Math.round(performance.now() - started);
    if (!source) return { output: { text: `the tool ${tool.title} is no longer available`, isError: true }, status: 'error', durationMs: 0 };
    const timeout = new AbortController();
    const signal = AbortSignal.any([context.signal, timeout.signal]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onStop: (() => void) | undefined;
    // a source that ignores its signal still cannot hold the turn past the limit
    const cut = new Promise<'timeout' | 'stopped'>((resolve) => {
      timer = setTimeout(() => {
        timeout.abort();
        resolve('timeout');
      }, limits.timeoutMs);
      onStop = () => resolve('stopped');
      if (context.signal.aborted) onStop();
      else context.signal.addEventListener('abort', onStop, { once: true });
    });
    try {
      const outcome = await Promise.race([
        source.call(tool, args, { ...context, signal }).then(
          (output) => ({ output }),
          (err: unknown) => ({ output: { text: `the tool failed: ${err instanceof Error ? err.message : String(err)}`, isError: true } }),
        ),
        cut,
      ]);
      if (outcome === 'timeout') {
        return { output: { text: `the tool ${tool.title} did not answer within ${Math.round(limits.timeoutMs / 1000)} s and was stopped`, isError: true }, status: 'timeout', durationMs: elapsed() };
      }
      if (outcome === 'stopped') return { output: { text: 'stopped by the user before the tool finished', isError: true }, status: 'stopped', durationMs: elapsed() };
      const { text, truncatedFrom } = cutResult(outcome.output.text, limits.resultMaxChars);
      return {
        output: { text, isError: outcome.output.isError },
        status: outcome.output.isError ? 'error' : 'ok',
        durationMs: elapsed(),
        ...(truncatedFrom === undefined ? {} : { truncatedFrom }),
      };
    } finally {
      clearTimeout(timer);
      if (onStop) context.signal.removeEventListener('abort', onStop);
    }
  }
}

/** A result longer than `max` characters keeps its start, with a note the model can act on. */
export function cutResult(text: string, max: number): { text: string; truncatedFrom?: number } {
  if (text.length <= max) return { text };
  const note = `\n\n[result cut: showing ${max} of ${text.length} characters; ask for less if you need the rest]`;
  return { text: text.slice(0, Math.max(0, max - note.length)) + note, truncatedFrom: text.length };
}
