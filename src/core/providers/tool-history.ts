/**
 * Tool calls and results in a history, made safe for the wire: the pieces every adapter needs
 * whatever its format.
 */
import type { ChatMessage } from './types.js';

/**
 * The arguments the model wrote, as the object Anthropic and Ollama want back. Text that is not
 * a JSON object becomes `{}`: the call was answered (most likely with an error result) and the
 * history must still be sendable.
 */
export function toolArgumentsObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return {};
}

/** A result's text for a format without an error flag (OpenAI, Ollama). */
export function toolResultText(message: ChatMessage): string {
  return message.isError ? `Error: ${message.content}` : message.content;
}

/** What a result says when it no longer has its call next to it. */
function orphanText(message: ChatMessage): string {
  const label = message.toolName ? `Result of tool ${message.toolName}` : 'Tool result';
  return `${label}${message.isError ? ' (error)' : ''}: ${message.content}`;
}

/**
 * Pairs each assistant tool call with its result, as OpenAI and Anthropic demand: a call must be
 * answered by the tool messages right after it, and a result must answer a call just made. A
 * history cut short (by the context window, or a turn that stopped mid-way) can break a pair:
 * unanswered calls are left out, and a result without its call becomes a plain user message.
 */
export function pairToolCalls(messages: ChatMessage[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.role === 'tool') {
      out.push({ role: 'user', content: orphanText(m) });
      continue;
    }
    if (m.role !== 'assistant' || !m.toolCalls?.length) {
      out.push(m);
      continue;
    }
    const results: ChatMessage[] = [];
    while (messages[i + 1]?.role === 'tool') results.push(messages[++i]!);
    const callIds = new Set(m.toolCalls.map((c) => c.id));
    const answered = new Set(results.filter((r) => r.toolCallId !== undefined && callIds.has(r.toolCallId)).map((r) => r.toolCallId));
    const { toolCalls: _calls, ...rest } = m;
    const calls = m.toolCalls.filter((c) => answered.has(c.id));
    out.push(calls.length > 0 ? { ...rest, toolCalls: calls } : rest);
    // the answered results first: nothing may come between a call and its results
    const seen = new Set<string>();
    const orphans: ChatMessage[] = [];
    for (const r of results) {
      if (r.toolCallId !== undefined && answered.has(r.toolCallId) && !seen.has(r.toolCallId)) {
        seen.add(r.toolCallId);
        out.push(r);
      } else {
        orphans.push({ role: 'user', content: orphanText(r) });
      }
    }
    out.push(...orphans);
  }
  return out;
}
