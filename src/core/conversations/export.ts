import { sourceHeader } from '../knowledge/retrieve.js';
import type { CitedSource, ConversationRow, MessageRow, StoredToolCall, ToolRunMeta } from './table.js';

export interface ConversationExport {
  id: number;
  title: string | null;
  platform: string;
  experienceSlug: string;
  exportedAt: string;
  messages: Array<{
    id: number;
    parentId: number | null;
    role: string;
    author: string | null;
    content: string;
    model: string | null;
    status: string;
    createdAt: string;
    /** an answer's tool calls, as stored */
    toolCalls?: StoredToolCall[];
    /** a tool result: the call it answers, the tool, and how it ran */
    toolCallId?: string | null;
    toolName?: string | null;
    toolMeta?: ToolRunMeta | null;
    /** the documents an answer cites, as stored */
    sources?: CitedSource[];
  }>;
}

export function exportJson(conversation: ConversationRow, experienceSlug: string, path: MessageRow[], now: Date): string {
  const data: ConversationExport = {
    id: conversation.id,
    title: conversation.title,
    platform: conversation.platform,
    experienceSlug,
    exportedAt: now.toISOString(),
    messages: path.map(exportedMessage),
  };
  return JSON.stringify(data, null, 2);
}

/** One message as exports show it; `parentId` keeps the tree. */
export function exportedMessage(m: MessageRow): ConversationExport['messages'][number] {
  const out: ConversationExport['messages'][number] = { id: m.id, parentId: m.parent_id, role: m.role, author: m.author_name, content: m.content, model: m.model, status: m.status, createdAt: m.created_at };
  const calls = lenient<StoredToolCall[]>(m.tool_calls);
  if (calls) out.toolCalls = calls;
  const sources = lenient<CitedSource[]>(m.sources);
  if (sources?.length) out.sources = sources;
  if (m.role === 'tool') Object.assign(out, { toolCallId: m.tool_call_id, toolName: m.tool_name, toolMeta: lenient<ToolRunMeta>(m.tool_meta) });
  return out;
}

/** A JSON column a model or a tool filled, read leniently: what does not parse is none, not a failed export or page. */
export function lenient<T>(text: string | null | undefined): T | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

/** A fence longer than any run of backticks in `text`, so a tool's output cannot close it. */
function fenced(text: string, info = ''): string[] {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((r) => r[0].length));
  const fence = '`'.repeat(longest + 1);
  return [`${fence}${info}`, text, fence];
}

/** Tool calls and results, marked so a reader tells them from the conversation itself. */
function toolLines(m: MessageRow): string[] {
  if (m.role === 'tool') {
    const meta = lenient<ToolRunMeta>(m.tool_meta);
    const how = meta ? ` — ${meta.status}, ${meta.durationMs} ms${meta.approvedBy ? `, approved by ${meta.approvedBy}` : ''}${meta.truncatedFrom ? `, cut from ${meta.truncatedFrom} characters` : ''}` : '';
    return [`> **Tool result** \`${meta?.title ?? m.tool_name ?? 'tool'}\`${how}`, '', ...fenced(m.content, 'text'), ''];
  }
  return (lenient<StoredToolCall[]>(m.tool_calls) ?? []).flatMap((c) => [`> **Tool call** \`${c.name}\``, '', ...fenced(c.arguments, 'json'), '']);
}

/**
 * A stored citation's line, the same as the chat's footnote. `sourceHeader` asks for a chunk id it
 * does not read (a stored citation keeps none), hence the placeholder.
 */
export function citationLabel(source: CitedSource): string {
  return sourceHeader(source);
}

/** An answer's cited documents under it: `[1] Title (file), p. 3`, one line each. */
function sourceLines(m: MessageRow): string[] {
  const sources = lenient<CitedSource[]>(m.sources) ?? [];
  if (!sources.length) return [];
  return ['Sources:', '', ...sources.map((s) => `- ${citationLabel(s)}`), ''];
}

export function exportMarkdown(conversation: ConversationRow, experienceSlug: string, path: MessageRow[], now: Date): string {
  const lines = [`# ${conversation.title ?? 'Conversation'}`, '', `Experience: ${experienceSlug} · exported ${now.toISOString()}`, ''];
  for (const m of path) {
    if (m.role === 'tool') {
      lines.push(...toolLines(m));
      continue;
    }
    const who = m.role === 'user' ? `**${m.author_name ?? 'User'}**` : `**Assistant**${m.model ? ` (${m.model})` : ''}`;
    const mark = m.status === 'partial' ? ' _(partial)_' : m.status === 'error' ? ' _(failed)_' : '';
    lines.push(`${who}${mark}`, '', m.content, '', ...sourceLines(m), ...toolLines(m));
  }
  return lines.join('\n');
}
