import type { MessageRow, MessageStatus } from '../conversations/table.js';
import type { NewUsageEventRow } from '../usage/table.js';
import type { ModelChoice } from '../providers/model-choice.js';
import type { ProviderCall, StreamOutcome } from '../providers/router.js';
import type { ChatMessage, GenerationParams, ToolSpec } from '../providers/types.js';
import { recordUsage, usageRow, type UsageContext } from '../usage/ledger.js';
import type { EngineDeps } from './deps.js';
import { storedError, withStoredError } from './utility.js';

/** How often the text of an answer being written is saved. */
const STREAMING_SAVE_MS = 2_000;

export interface AnswerStreamRequest {
  conversationId: number;
  /** the user message the answer goes under */
  parentId: number;
  /** the model to ask, then its fallbacks */
  choice: Pick<ModelChoice, 'modelId' | 'candidates'>;
  messages: ChatMessage[];
  params: GenerationParams;
  /** the tools the model may call this round */
  tools?: ToolSpec[];
  signal: AbortSignal;
  /** each piece of text as it arrives: the reply renderer */
  onText: (delta: string) => void;
  /** who the usage rows are recorded for */
  usage: Omit<UsageContext, 'purpose' | 'messageId'>;
  /** the prompt's estimated tokens, for a call whose provider reported none */
  promptEstimate: number;
}

export interface StreamedAnswer {
  answer: MessageRow;
  outcome: StreamOutcome;
}

/**
 * Steps 5 and 7 of a turn: the answer streamed from the router (fallbacks and retries are its
 * business), saved as it arrives, then stored with its status, tokens, cost, latency and time to
 * first token, and one usage row per provider call.
 */
export async function streamAnswer(deps: EngineDeps, request: AnswerStreamRequest): Promise<StreamedAnswer> {
  const answer = await deps.conversations.append(request.conversationId, { role: 'assistant', content: '', status: 'streaming', model: request.choice.modelId }, request.parentId);
  const rows: NewUsageEventRow[] = [];
  const progress = new StreamingSave((text) => deps.conversations.saveStreamingText(answer.id, text), deps.log);
  const outcome = await deps.router.stream({
    candidates: request.choice.candidates,
    messages: request.messages,
    params: request.params,
    ...(request.tools?.length ? { tools: request.tools } : {}),
    signal: request.signal,
    onText: (delta) => {
      request.onText(delta);
      progress.push(delta);
    },
    onCall: (call) => rows.push(callRow(deps, call, rows, { ...request.usage, messageId: answer.id }, request.promptEstimate)),
  });

  await progress.done();
  const final = rows.find((r) => r.status !== 'error') ?? null;
  await deps.conversations.finishAnswer(answer.id, {
    content: outcome.text,
    status: answerStatus(outcome),
    model: outcome.modelId,
    error: outcome.error ? storedError(outcome.error.message, deps.config) : null,
    tokensIn: final ? final.tokens_in ?? null : null,
    tokensOut: outcome.usage?.outputTokens ?? null,
    costUsd: rows.reduce((sum, r) => sum + (r.cost_usd ?? 0), 0),
    latencyMs: outcome.latencyMs,
    ttftMs: outcome.ttftMs,
  });
  await recordUsage(deps.db, rows);
  return { answer, outcome };
}

/** One provider call's usage row; a call that answered after an earlier one failed is a fallback. */
function callRow(deps: EngineDeps, call: ProviderCall, earlier: readonly NewUsageEventRow[], usage: Omit<UsageContext, 'purpose'>, estimate: number): NewUsageEventRow {
  const status = call.status === 'ok' && earlier.some((r) => r.status === 'error') ? 'fallback' : call.status;
  const row = withStoredError(usageRow(call, { ...usage, purpose: 'chat' }, deps.prices, estimate, status), deps.config);
  // stamped with the engine's clock, which budget periods and `usage` also go by
  return { ...row, created_at: deps.now().toISOString() };
}

export function answerStatus(outcome: StreamOutcome): MessageStatus {
  if (outcome.status === 'ok') return 'complete';
  return outcome.text ? 'partial' : 'error';
}

/**
 * Saves what an answer has streamed so far every few seconds, so a process killed mid-answer
 * leaves the text that arrived (marked partial at the next start) instead of an empty answer.
 */
export class StreamingSave {
  private text = '';
  private savedAt: number;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly save: (text: string) => Promise<void>,
    private readonly log: { warn(message: string, fields?: Record<string, unknown>): void },
    private readonly now: () => number = Date.now,
  ) {
    this.savedAt = now();
  }

  push(delta: string): void {
    this.text += delta;
    if (this.now() - this.savedAt < STREAMING_SAVE_MS) return;
    this.savedAt = this.now();
    const text = this.text;
    this.saving = this.saving.then(() => this.save(text)).catch((err) => this.log.warn('saving a streaming answer failed', { error: String(err) }));
  }

  /** waits for a save in progress, so the final write comes after it */
  done(): Promise<void> {
    return this.saving;
  }
}
