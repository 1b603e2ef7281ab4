import type { MessageRow } from '../conversations/table.js';
import type { Reply, ReplyButton } from '../inbound.js';
import type { StreamOutcome } from '../providers/router.js';
import { StreamRenderer } from '../stream.js';
import type { EngineDeps } from './deps.js';

/** An answer complete within this time after its first token is posted once, not posted and edited. */
const FIRST_POST_DELAY_MS = 400;

/** Step 6 of a turn: the renderer the answer streams into, started (typing) before the prompt is built. */
export function openAnswerReply(reply: Reply): StreamRenderer {
  const renderer = new StreamRenderer(reply, {
    firstPostDelayMs: Math.min(FIRST_POST_DELAY_MS, reply.capabilities.minEditIntervalMs),
    ...(reply.capabilities.appendOnly ? { statusLines: false } : {}),
    ...(reply.capabilities.buttons ? { liveButtons: [{ action: 'stop' as const, label: 'Stop' }] } : {}),
  });
  renderer.start();
  return renderer;
}

/**
 * The last edit: the whole answer, its footer and its buttons. Returns the platform ids of the
 * posts that show it, also when the platform refused the last edit (the answer is saved by then).
 */
export async function closeAnswerReply(
  deps: EngineDeps,
  renderer: StreamRenderer,
  reply: Reply,
  shown: { answer: MessageRow; outcome: StreamOutcome; footer: string | undefined },
): Promise<string[]> {
  const buttons = await answerButtons(deps, reply, shown.answer, shown.outcome);
  try {
    return (await renderer.finish({ footer: shown.footer, buttons })).messageIds;
  } catch (err) {
    deps.log.warn('could not write the final answer to the platform', { error: String(err), conversationId: shown.answer.conversation_id });
    return renderer.messageIds;
  }
}

async function answerButtons(deps: EngineDeps, reply: Reply, answer: MessageRow, outcome: StreamOutcome): Promise<ReplyButton[] | undefined> {
  if (!reply.capabilities.buttons || outcome.status === 'error') return undefined;
  const { siblings, index } = await deps.conversations.branchPointOf(answer.id);
  const buttons: ReplyButton[] = [];
  if (siblings.length > 1) {
    buttons.push({ action: 'prev', label: '◀' }, { action: 'next', label: `▶ ${index + 1}/${siblings.length}` });
  }
  buttons.push({ action: 'regen', label: 'Regenerate' });
  return buttons;
}
