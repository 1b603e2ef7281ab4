import { recentPath } from '../conversations/repository.js';
import type { BuiltContext } from '../context/builder.js';
import { estimateTokens } from '../context/tokens.js';
import type { ConversationRow, MessageRow, SummaryRow } from '../conversations/table.js';
import type { EngineDeps } from './deps.js';
import { utilityCompletion } from './utility.js';
import type { UsageContext } from '../usage/ledger.js';

/** Most messages read back when writing one checkpoint, so a summary call stays bounded. */
const SUMMARY_INPUT_MESSAGES = 400;
const SUMMARY_INPUT_CHARS = 60_000;

const SUMMARY_INSTRUCTIONS = `You keep the running summary of a chat between a user and an assistant.
Write one concise summary (at most 250 words) of everything below: facts established, decisions,
names, numbers, commands and code that matter later, the user's preferences, and open questions.
Write in the language of the conversation. Plain prose or short bullets; no preamble.`;

/**
 * Covers the messages that fell out of the window with a new summary checkpoint. The newest half
 * of the window stays verbatim, so the next checkpoint is only needed after that many more
 * messages rather than on every turn. Returns null (and nothing is stored) if no model answered.
 */
export async function summariseFallenOut(
  deps: EngineDeps,
  conversation: ConversationRow,
  built: BuiltContext,
  maxMessages: number,
  candidates: string[],
  usage: Omit<UsageContext, 'purpose'>,
): Promise<SummaryRow | null> {
  const keep = Math.max(1, Math.floor(Math.min(maxMessages, built.included.length) / 2));
  const target = built.included.length > keep ? built.included[built.included.length - keep - 1]! : null;
  const targetId = target ? target.id : built.included[0]?.parent_id ?? null;
  if (targetId === null) return null;

  const walk = await recentPath(deps.db, targetId, SUMMARY_INPUT_MESSAGES);
  const toSummarise = walk.checkpointMessageId !== null ? walk.messages.slice(1) : walk.messages;
  const transcript = transcriptOf(toSummarise);
  const previous = built.summary ? `Summary so far:\n${built.summary.content}\n\n` : '';
  const result = await utilityCompletion(deps, {
    purpose: 'summary',
    candidates,
    maxTokens: 600,
    usage,
    messages: [
      { role: 'system', content: SUMMARY_INSTRUCTIONS },
      { role: 'user', content: `${previous}Conversation to add:\n${transcript}` },
    ],
  });
  if (!result) return null;
  return deps.db
    .insertInto('summaries')
    .values({ conversation_id: conversation.id, message_id: targetId, content: result.text, token_count: estimateTokens(result.text) + 4, model: result.modelId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

function speakerOf(m: MessageRow): string {
  if (m.role === 'user') return m.author_name ?? 'User';
  if (m.role === 'tool') return `Tool result (${m.tool_name ?? 'tool'})`;
  return m.tool_calls ? `Assistant (calling ${JSON.parse(m.tool_calls).map((c: { name: string }) => c.name).join(', ')})` : 'Assistant';
}

export function transcriptOf(messages: MessageRow[]): string {
  const lines = messages.map((m) => `${speakerOf(m)}: ${m.content}`);
  let text = lines.join('\n\n');
  if (text.length > SUMMARY_INPUT_CHARS) text = `…${text.slice(-SUMMARY_INPUT_CHARS)}`;
  return text;
}
