import type { MessageRow } from '../core/conversations/table.js';

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
  const view = (m: MessageRow): TreeMessage => ({ message: m, active: activePath.has(m.id), leaf: m.id === leafId });
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
