import type { ConversationRow, MessageRow } from './table.js';

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
  return { id: m.id, parentId: m.parent_id, role: m.role, author: m.author_name, content: m.content, model: m.model, status: m.status, createdAt: m.created_at };
}

export function exportMarkdown(conversation: ConversationRow, experienceSlug: string, path: MessageRow[], now: Date): string {
  const lines = [`# ${conversation.title ?? 'Conversation'}`, '', `Experience: ${experienceSlug} · exported ${now.toISOString()}`, ''];
  for (const m of path) {
    const who = m.role === 'user' ? `**${m.author_name ?? 'User'}**` : `**Assistant**${m.model ? ` (${m.model})` : ''}`;
    const mark = m.status === 'partial' ? ' _(partial)_' : m.status === 'error' ? ' _(failed)_' : '';
    lines.push(`${who}${mark}`, '', m.content, '');
  }
  return lines.join('\n');
}
