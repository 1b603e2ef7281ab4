import type { ConversationService } from '../conversations/service.js';
import type { ConversationRow } from '../conversations/table.js';
import type { ModelChoice } from '../providers/model-choice.js';
import type { StreamOutcome } from '../providers/router.js';

/** What the lines under an answer say happened; worded in one place, `noticeText`. */
export type TurnNotice =
  | { kind: 'edited'; branch: number; of: number; buttons: boolean }
  | { kind: 'summarised' }
  | { kind: 'truncated'; kept: number; summaryFailed: boolean }
  | { kind: 'fallback'; picked: string | null; answeredBy: string; failed: string[]; reason: string }
  | { kind: 'cut-off'; reason: string }
  | { kind: 'stopped' }
  | { kind: 'no-answer'; reason: string; tried: string[]; fix: string | null }
  | { kind: 'restarting' }
  /** worded by budgets/lines.ts, which says everything a user reads about budgets */
  | { kind: 'budget'; line: string }
  /** the documents the answer cites, as footnotes: `[1] manual (ds920.pdf), p. 37` */
  | { kind: 'sources'; lines: string[] }
  /** the tools this answer called, in order */
  | { kind: 'tools'; used: ReadonlyArray<{ title: string; status: string; durationMs: number }> }
  | { kind: 'tool-limit'; rounds: number }
  /** the Experience offers tools, but none of its models can call them */
  | { kind: 'no-tool-model'; models: string[] }
  /** the chosen model cannot call tools; a fallback that can answered */
  | { kind: 'tool-model'; picked: string; used: string };

/** The notices a conversation shows once, ever: it is told the first time older messages fall out. */
export type OnceNotice = Extract<TurnNotice, { kind: 'summarised' | 'truncated' }>;

export function noticeText(notice: TurnNotice): string {
  switch (notice.kind) {
    case 'edited': {
      const back = notice.buttons ? 'with ◀' : 'with `branch prev`';
      return `✎ This answers your edited message (branch ${notice.branch}/${notice.of}); the earlier version stays reachable ${back}.`;
    }
    case 'summarised':
      return 'ℹ Earlier messages were summarised to stay within the context window.';
    case 'truncated':
      return notice.summaryFailed
        ? `ℹ Only the last ${notice.kept} messages were used (summarising failed).`
        : `ℹ Only the last ${notice.kept} messages are used; older ones are left out.`;
    case 'fallback':
      if (notice.picked !== null) return `↪ You picked ${notice.picked}, but ${notice.reason}; ${notice.answeredBy} answered instead.`;
      return `↪ Answered by ${notice.answeredBy} (${notice.failed.join(', ')}: ${notice.reason}).`;
    case 'cut-off':
      return `⚠ The answer was cut off (${notice.reason}); what arrived is kept.`;
    case 'stopped':
      return '⏹ Stopped.';
    case 'no-answer':
      return `⚠ No answer: ${notice.reason}.${notice.tried.length ? ` Tried ${notice.tried.join(', ')}.` : ''}${notice.fix ? ` ${notice.fix}` : ''}`;
    case 'restarting':
      return '⏸ Cut short: Threadloom is restarting; what arrived is kept. Ask again in a moment.';
    case 'budget':
      return notice.line;
    case 'sources':
      return `📚 Sources:\n${notice.lines.join('\n')}`;
    case 'tools':
      return `🔧 ${notice.used.map(toolUseText).join(' · ')}`;
    case 'tool-limit':
      return `⚠ Stopped after ${notice.rounds} rounds of tool calls; this is what the model had by then.`;
    case 'no-tool-model':
      return `ℹ Answered without tools: ${notice.models.join(', ')} cannot call them.`;
    case 'tool-model':
      return `↪ ${notice.picked} cannot call tools; ${notice.used} answered with them.`;
  }
}

function toolUseText(use: { title: string; status: string; durationMs: number }): string {
  const seconds = use.durationMs >= 1000 ? ` ${(use.durationMs / 1000).toFixed(1)} s` : '';
  const mark = use.status === 'ok' ? '' : ` (${use.status === 'error' ? 'failed' : use.status})`;
  return `${use.title}${seconds}${mark}`;
}

/** The footer under an answer: one line per notice, in order; undefined when there is none. */
export function footerOf(notices: ReadonlyArray<TurnNotice | null | undefined>): string | undefined {
  const lines = notices.filter((n): n is TurnNotice => Boolean(n)).map(noticeText);
  return lines.length ? lines.join('\n') : undefined;
}

/** What the stream's end was worth saying, or null when nothing notable happened. */
export function outcomeNotice(outcome: StreamOutcome, choice: ModelChoice): TurnNotice | null {
  const reason = outcome.error?.userMessage ?? 'unknown error';
  switch (outcome.status) {
    case 'ok': {
      const first = outcome.failures[0];
      if (!first) return null;
      return {
        kind: 'fallback',
        picked: choice.source === 'conversation' ? choice.modelId : null,
        answeredBy: outcome.modelId ?? '',
        failed: outcome.failures.map((f) => f.modelId),
        reason: first.error.userMessage,
      };
    }
    case 'partial':
      return { kind: 'cut-off', reason };
    case 'aborted':
      return { kind: 'stopped' };
    case 'error':
      return { kind: 'no-answer', reason, tried: outcome.failures.map((f) => f.modelId), fix: remedy(outcome.failures.at(-1)) };
  }
}

/** What a chat user (often not the operator) can do about a failed answer, in one sentence. */
function remedy(last: StreamOutcome['failures'][number] | undefined): string | null {
  if (!last) return null;
  const ollama = last.modelId.startsWith('ollama/');
  switch (last.error.failure) {
    case 'connection':
      return ollama
        ? 'Ask whoever runs Threadloom to start Ollama (`ollama serve`), or pick another model with the `model` command.'
        : 'Ask whoever runs Threadloom to check that the model server is up, or pick another model with the `model` command.';
    case 'unknown_model':
      return ollama
        ? `Ask whoever runs Threadloom to fetch it (\`ollama pull ${last.modelId.slice('ollama/'.length)}\`), or pick another model with the \`model\` command.`
        : 'Pick another model with the `model` command (`models` lists them).';
    case 'auth':
      return "Ask whoever runs Threadloom to check the provider's API key.";
    case 'timeout':
    case 'server':
    case 'rate_limited':
    case 'malformed':
      return 'Try again in a moment.';
    default:
      return null;
  }
}

function shownOnce(conversation: ConversationRow): Record<string, boolean> {
  try {
    return JSON.parse(conversation.notices) as Record<string, boolean>;
  } catch {
    return {};
  }
}

export function shownBefore(conversation: ConversationRow, kind: OnceNotice['kind']): boolean {
  return shownOnce(conversation)[kind] === true;
}

/** Records that the conversation was told; returns the conversation as it now is. */
export async function markShown(conversations: ConversationService, conversation: ConversationRow, kind: OnceNotice['kind']): Promise<ConversationRow> {
  const notices = JSON.stringify({ ...shownOnce(conversation), [kind]: true });
  await conversations.update(conversation.id, { notices });
  return { ...conversation, notices };
}
