import { createHash, randomBytes } from 'node:crypto';
import type { ConversationRow } from '../../core/conversations/table.js';
import type { Experience } from '../../core/experiences/service.js';
import type { EngineDeps } from '../../core/turns/deps.js';

export const API_PLATFORM = 'api';

export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

/**
 * A message the client sends back is the one stored (but for white space at its ends), or for an
 * answer, the stored text with the lines the client was shown under it (a notice such as
 * "ℹ Only the last 20 messages are used").
 */
function sameMessage(stored: { role: string; content: string }, sent: ChatTurn): boolean {
  if (stored.role !== sent.role) return false;
  // the text as written to the client: the answer stored as the model ended it, the shown one trimmed
  const kept = stored.content.trim();
  const back = sent.content.trim();
  return back === kept || (sent.role === 'assistant' && back.startsWith(`${kept}\n\n`));
}

/**
 * OpenAI clients send the whole chat every time; Threadloom keeps it as a conversation. A request
 * continues the conversation whose active path is exactly its earlier messages. Candidates are
 * found by a key of the token, the Experience and the first user message; when none matches (a
 * new chat, or one edited in the client), a new conversation is made, seeded with that history.
 */
export async function conversationFor(deps: EngineDeps, tokenId: number, experience: Experience, history: ChatTurn[], firstUser: string): Promise<ConversationRow> {
  const channelId = `token:${tokenId}`;
  const key = createHash('sha256').update(`${experience.slug}\n${firstUser}`).digest('hex').slice(0, 20);
  const candidates = await deps.db
    .selectFrom('conversations')
    .selectAll()
    .where('platform', '=', API_PLATFORM)
    .where('channel_id', '=', channelId)
    // `chat:<key>` and `chat:<key>:<n>`, as a range the place index serves (LIKE would scan every chat of the token)
    .where('thread_id', '>=', `chat:${key}`)
    .where('thread_id', '<', `chat:${key};`)
    .where('archived_at', 'is', null)
    .orderBy('id', 'desc')
    .limit(50)
    .execute();
  for (const candidate of candidates) {
    if (candidate.experience_id !== experience.id) continue;
    const path = (await deps.conversations.path(candidate)).filter((m) => m.role === 'user' || m.role === 'assistant');
    if (path.length === history.length && path.every((m, i) => sameMessage(m, history[i]!))) return candidate;
  }
  const threadId = candidates.length === 0 ? `chat:${key}` : `chat:${key}:${randomBytes(4).toString('hex')}`;
  const conversation = await deps.conversations.create({ platform: API_PLATFORM, channelId, threadId }, experience.id, `token:${tokenId}`);
  let parent: number | null = null;
  for (const turn of history) {
    const row = await deps.conversations.append(conversation.id, { role: turn.role, content: turn.content, status: 'complete', ...(turn.role === 'user' ? { authorId: `token:${tokenId}` } : {}) }, parent);
    parent = row.id;
  }
  return deps.conversations.get(conversation.id);
}
