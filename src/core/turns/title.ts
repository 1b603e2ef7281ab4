import type { ConversationRow } from '../conversations/table.js';
import type { Reply } from '../inbound.js';
import type { EngineDeps } from './deps.js';
import { utilityCompletion } from './utility.js';
import type { UsageContext } from '../usage/ledger.js';

const TITLE_MAX_CHARS = 80;

/** The first words of the message: the title when no model answers. */
export function fallbackTitle(text: string): string {
  const words = text.replace(/\s+/g, ' ').trim();
  if (!words) return 'New conversation';
  if (words.length <= 60) return words;
  const cut = words.slice(0, 60);
  return `${cut.slice(0, cut.lastIndexOf(' ') > 30 ? cut.lastIndexOf(' ') : 60)}…`;
}

function cleanTitle(raw: string): string {
  const line = raw.split('\n').find((l) => l.trim()) ?? '';
  return line.replace(/^(title:\s*)/i, '').replace(/^["'`*#\s]+|["'`*.\s]+$/g, '').slice(0, TITLE_MAX_CHARS);
}

export async function generateTitle(
  deps: EngineDeps,
  firstMessage: string,
  candidates: string[],
  usage: Omit<UsageContext, 'purpose'>,
): Promise<string> {
  const result = await utilityCompletion(deps, {
    purpose: 'title',
    candidates,
    maxTokens: 24,
    usage,
    messages: [
      { role: 'system', content: 'Write a title of 3 to 7 words for a chat that starts with the message below. Answer with the title only: no quotes, no punctuation at the end.' },
      { role: 'user', content: firstMessage.slice(0, 2000) },
    ],
  });
  const title = result ? cleanTitle(result.text) : '';
  return title || fallbackTitle(firstMessage);
}

/** Names an untitled conversation (and its thread, where the platform has titles) after the question; a failure leaves it unnamed. */
export async function titleConversation(
  deps: EngineDeps,
  conversation: ConversationRow,
  questionId: number,
  candidates: string[],
  usage: Omit<UsageContext, 'purpose'>,
  reply: Reply,
): Promise<void> {
  try {
    const first = await deps.conversations.message(questionId);
    const title = await generateTitle(deps, first.content, candidates, usage);
    await deps.conversations.update(conversation.id, { title });
    await reply.setTitle?.(title);
  } catch (err) {
    deps.log.warn('title generation failed', { error: String(err) });
  }
}
