import { citationLabel, lenient } from '../core/conversations/export.js';
import type { CitedSource, MessageRow, StoredToolCall, ToolRunMeta } from '../core/conversations/table.js';

/**
 * A conversation's message tree shaped for a page: runs of messages without a choice are flat;
 * where a message has several children (an edit or a regenerated answer), each child starts a
 * branch shown side by side with its siblings. Nesting grows with branch points, not length.
 */

export interface TreeMessage {
  message: MessageRow;
  /** on the path from the root to the active leaf */
  active: boolean;
  /** the active leaf itself */
  leaf: boolean;
  /** an answer's tool calls, titled by their results where there are any */
  calls: ShownToolCall[];
  /** a tool node's run: status, duration, who approved it */
  run: ToolRunMeta | null;
  /** the documents an answer cites, each linked to the document at its page */
  sources: ShownSource[];
}

export interface ShownSource {
  href: string;
  /** `[1] Synology DS920+ manual (ds920.pdf), p. 37 › Resetting` */
  label: string;
}

/** The admin's link scheme for a cited page (src/admin/README.md, "Citation links"). */
export function sourceHref(source: Pick<CitedSource, 'documentId' | 'pageStart'>): string {
  const page = source.pageStart === null ? '' : `?page=${source.pageStart}#page-${source.pageStart}`;
  return `/knowledge/documents/${source.documentId}${page}`;
}

export function shownSources(m: Pick<MessageRow, 'sources'>): ShownSource[] {
  return (lenient<CitedSource[]>(m.sources) ?? []).map((s) => ({ href: sourceHref(s), label: citationLabel(s) }));
}

export interface ShownToolCall {
  id: string;
  name: string;
  title: string;
  /** the arguments as pretty JSON, or as the model wrote them when they do not parse */
  arguments: string;
}

function pretty(args: string): string {
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return args;
  }
}

export interface Branch {
  messages: TreeMessage[];
  /** where the last message has several children: one branch each, oldest first */
  forks: Fork | null;
}

export interface Fork {
  branches: Array<{ number: number; active: boolean; branch: Branch }>;
}

export function buildTree(messages: readonly MessageRow[], activePath: ReadonlySet<number>, leafId: number | null): Branch {
  const children = new Map<number | null, MessageRow[]>();
  for (const m of [...messages].sort((a, b) => a.id - b.id)) {
    const list = children.get(m.parent_id) ?? [];
    list.push(m);
    children.set(m.parent_id, list);
  }
  const titles = new Map<string, string>();
  for (const m of messages) {
    const run = m.role === 'tool' ? lenient<ToolRunMeta>(m.tool_meta) : null;
    if (run && m.tool_call_id) titles.set(m.tool_call_id, run.title);
  }
  const calls = (m: MessageRow): ShownToolCall[] =>
    (lenient<StoredToolCall[]>(m.tool_calls) ?? []).map((c) => ({ id: c.id, name: c.name, title: titles.get(c.id) ?? c.name, arguments: pretty(c.arguments) }));
  const view = (m: MessageRow): TreeMessage => ({
    message: m, active: activePath.has(m.id), leaf: m.id === leafId,
    calls: m.role === 'assistant' ? calls(m) : [],
    run: m.role === 'tool' ? lenient<ToolRunMeta>(m.tool_meta) : null,
    sources: m.role === 'assistant' ? shownSources(m) : [],
  });
  const fork = (starts: MessageRow[]): Fork => ({
    branches: starts.map((start, i) => ({ number: i + 1, active: activePath.has(start.id), branch: walk(start) })),
  });
  function walk(start: MessageRow): Branch {
    const branch: Branch = { messages: [], forks: null };
    let node: MessageRow | undefined = start;
    while (node) {
      branch.messages.push(view(node));
      const next: MessageRow[] = children.get(node.id) ?? [];
      if (next.length > 1) {
        branch.forks = fork(next);
        break;
      }
      node = next[0];
    }
    return branch;
  }
  const roots = children.get(null) ?? [];
  if (roots.length === 1) return walk(roots[0]!);
  return { messages: [], forks: roots.length ? fork(roots) : null };
}
