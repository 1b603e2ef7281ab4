import { buildContext } from '../context/builder.js';
import { mapPlatformMessages } from '../conversations/platform-messages.js';
import { promptVariables } from '../context/prompt.js';
import type { ConversationRow, MessageRow, MessageStatus, NewUsageEvent } from '../db/types.js';
import type { Experience } from '../experiences/service.js';
import type { Reply, ReplyButton } from '../inbound.js';
import type { StreamOutcome } from '../providers/router.js';
import { StreamRenderer } from '../stream.js';
import { promptTokenEstimate, recordUsage, usageRow } from '../usage/ledger.js';
import type { EngineDeps } from './deps.js';
import { chooseModel, type ModelChoice } from '../providers/model-choice.js';
import { summariseFallenOut } from './summarize.js';
import { generateTitle } from './title.js';
import { storedError, withStoredError } from './utility.js';

/** An answer complete within this time after its first token is posted once, not posted and edited. */
const FIRST_POST_DELAY_MS = 400;

export interface TurnUser {
  platform: string;
  id: string;
  name: string;
}

export interface TurnInput {
  conversation: ConversationRow;
  /** the user message the answer goes under */
  parentId: number;
  reply: Reply;
  user: TurnUser;
  /** a line to show under this answer, e.g. that it answers an edited message */
  notice?: string;
}

export interface TurnResult {
  answerId: number;
  outcome: StreamOutcome;
  platformMessageIds: string[];
}

function notices(conversation: ConversationRow): Record<string, boolean> {
  try {
    return JSON.parse(conversation.notices) as Record<string, boolean>;
  } catch {
    return {};
  }
}

/** The one line under an answer that says what happened, or null when nothing notable did. */
export function outcomeFooter(outcome: StreamOutcome, choice: ModelChoice): string | null {
  const reason = outcome.error?.userMessage ?? 'unknown error';
  switch (outcome.status) {
    case 'ok': {
      if (outcome.failures.length === 0) return null;
      const first = outcome.failures[0]!;
      if (choice.source === 'conversation') {
        return `↪ You picked ${choice.modelId}, but ${first.error.userMessage}; ${outcome.modelId} answered instead.`;
      }
      return `↪ Answered by ${outcome.modelId} (${outcome.failures.map((f) => f.modelId).join(', ')}: ${first.error.userMessage}).`;
    }
    case 'partial':
      return `⚠ The answer was cut off (${reason}); what arrived is kept.`;
    case 'aborted':
      return '⏹ Stopped.';
    case 'error': {
      const tried = outcome.failures.map((f) => f.modelId);
      return `⚠ No answer: ${reason}.${tried.length ? ` Tried ${tried.join(', ')}.` : ''}`;
    }
  }
}

function answerStatus(outcome: StreamOutcome): MessageStatus {
  if (outcome.status === 'ok') return 'complete';
  return outcome.text ? 'partial' : 'error';
}

/**
 * Saves what an answer has streamed so far every few seconds, so a process killed mid-answer
 * leaves the text that arrived (marked partial at the next start) instead of an empty answer.
 */
class StreamingSave {
  private text = '';
  private savedAt = Date.now();
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly save: (text: string) => Promise<void>,
    private readonly log: { warn(message: string, fields?: Record<string, unknown>): void },
  ) {}

  push(delta: string): void {
    this.text += delta;
    if (Date.now() - this.savedAt < STREAMING_SAVE_MS) return;
    this.savedAt = Date.now();
    const text = this.text;
    this.saving = this.saving.then(() => this.save(text)).catch((err) => this.log.warn('saving a streaming answer failed', { error: String(err) }));
  }

  /** waits for a save in progress, so the final write comes after it */
  done(): Promise<void> {
    return this.saving;
  }
}

const STREAMING_SAVE_MS = 2_000;

/** The abort reason of answers cut by a shutdown. */
const SHUTDOWN = Symbol('shutdown');
const SHUTDOWN_NOTE = '⏸ Cut short: Threadloom is restarting; what arrived is kept. Ask again in a moment.';
const DRAIN_SAVE_MS = 3_000;

/** Runs one chat turn: context → route → stream into the reply → persist the answer and usage. */
export class TurnRunner {
  /** answers being written, per conversation: several users may be answered at once in a thread */
  private readonly active = new Map<number, Set<AbortController>>();

  constructor(private readonly deps: EngineDeps) {}

  /** Aborts the conversation's running answers; what arrived is kept. */
  stop(conversationId: number): boolean {
    const running = this.active.get(conversationId);
    for (const controller of running ?? []) controller.abort();
    return running !== undefined;
  }

  stopAll(): void {
    for (const running of this.active.values()) for (const controller of running) controller.abort();
  }

  /**
   * For a shutdown: lets the answers being written finish for up to `graceMs`, then cuts the
   * rest (kept as partial answers, with a note in the chat) and waits for them to be saved.
   */
  async drain(graceMs: number): Promise<{ finished: number; cut: number }> {
    const count = (): number => [...this.active.values()].reduce((n, running) => n + running.size, 0);
    const started = count();
    const settled = (deadline: number): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (count() === 0 || Date.now() >= deadline) return resolve();
          setTimeout(check, 25);
        };
        check();
      });
    await settled(Date.now() + graceMs);
    const cut = count();
    for (const running of this.active.values()) for (const controller of running) controller.abort(SHUTDOWN);
    // cut answers still save what arrived and write their last edit
    await settled(Date.now() + DRAIN_SAVE_MS);
    return { finished: started - cut, cut };
  }

  async run(input: TurnInput): Promise<TurnResult> {
    const { deps } = this;
    const { reply, user } = input;
    let conversation = input.conversation;
    const experience = (await deps.experiences.getById(conversation.experience_id)) as Experience;
    const chosen = await chooseModel(deps, conversation, experience);
    // before anything reaches a provider: a spent budget refuses, a nearly spent one may pick a cheaper model
    const budget = deps.budgets ? await deps.budgets.plan(user, experience, chosen) : null;
    const choice = budget?.choice ?? chosen;
    const usageBase = { platform: user.platform, userId: user.id, experienceId: experience.id, conversationId: conversation.id, messageId: null };

    const renderer = new StreamRenderer(reply, {
      firstPostDelayMs: Math.min(FIRST_POST_DELAY_MS, reply.capabilities.minEditIntervalMs),
      ...(reply.capabilities.buttons ? { liveButtons: [{ action: 'stop' as const, label: 'Stop' }] } : {}),
    });
    renderer.start();
    const controller = new AbortController();
    const running = this.active.get(conversation.id) ?? new Set<AbortController>();
    running.add(controller);
    this.active.set(conversation.id, running);
    try {
      const context = await this.context(conversation, experience, choice, input.parentId, user, usageBase);
      conversation = context.conversation;
      const estimate = promptTokenEstimate(context.built.messages);
      await budget?.reserve(estimate);
      const answer = await deps.conversations.append(conversation.id, { role: 'assistant', content: '', status: 'streaming', model: choice.modelId }, input.parentId);
      const rows: NewUsageEvent[] = [];
      const progress = new StreamingSave((text) => deps.conversations.saveStreamingText(answer.id, text), deps.log);
      const outcome = await deps.router.stream({
        candidates: choice.candidates,
        messages: context.built.messages,
        params: context.params,
        signal: controller.signal,
        onText: (delta) => {
          renderer.push(delta);
          progress.push(delta);
        },
        onCall: (call) => {
          const status = call.status === 'ok' && rows.some((r) => r.status === 'error') ? 'fallback' : call.status;
          // stamped with the engine's clock, which budget periods and `usage` also go by
          rows.push({ ...withStoredError(usageRow(call, { ...usageBase, messageId: answer.id, purpose: 'chat' }, deps.prices, estimate, status), deps.config), created_at: deps.now().toISOString() });
        },
      });

      await progress.done();
      // persist first: a platform that refuses the final edit must not lose the answer
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

      const ending = controller.signal.reason === SHUTDOWN ? SHUTDOWN_NOTE : outcomeFooter(outcome, choice);
      const budgetNotes = budget ? await budget.notes() : [];
      const footer = [input.notice, context.notice, ending, ...budgetNotes].filter(Boolean).join('\n') || undefined;
      const buttons = await this.buttons(reply, answer, outcome);
      let messageIds: string[];
      try {
        messageIds = (await renderer.finish({ footer, buttons })).messageIds;
      } catch (err) {
        deps.log.warn('could not write the final answer to the platform', { error: String(err), conversationId: conversation.id });
        messageIds = renderer.messageIds;
      }
      await mapPlatformMessages(deps.db, user.platform, messageIds, answer.id, conversation.id);
      // a stopped turn (its client left, or Stop) leaves the title to the next one, and the provider's slots to others
      if (!conversation.title && !controller.signal.aborted) await this.title(conversation, input.parentId, choice, usageBase, reply);
      return { answerId: answer.id, outcome, platformMessageIds: messageIds };
    } catch (err) {
      renderer.abandon();
      throw err;
    } finally {
      budget?.release();
      running.delete(controller);
      if (running.size === 0) this.active.delete(conversation.id);
    }
  }

  private async context(
    conversation: ConversationRow,
    experience: Experience,
    choice: ModelChoice,
    leafId: number,
    user: TurnUser,
    usageBase: { platform: string; userId: string; experienceId: number; conversationId: number; messageId: null },
  ) {
    const { deps } = this;
    const info = await deps.catalog.capabilities(choice.modelId);
    const providerConfig = deps.config.providers[info.provider];
    const isOllama = providerConfig?.kind === 'ollama';
    // Ollama allocates memory for num_ctx and reloads the model when it changes: keep it fixed
    const contextLength = isOllama ? Math.min(info.contextLength ?? deps.config.context.defaultContextLength, deps.config.context.defaultContextLength) : info.contextLength!;
    const request = {
      experience,
      personaOverride: conversation.persona_override,
      variables: promptVariables(deps.now(), user.name, choice.modelId, experience.name),
      leafId,
      model: { contextLength, vision: info.vision },
      reservedAnswerTokens: experience.params.maxTokens ?? deps.config.context.reservedAnswerTokens,
    };
    let built = await buildContext(deps.db, request);
    let notice: string | null = null;
    const seen = notices(conversation);
    if (built.droppedCount > 0) {
      if (experience.contextPolicy.summarize) {
        const summary = await summariseFallenOut(deps, conversation, built, experience.contextPolicy.maxMessages, choice.candidates, usageBase);
        if (summary) built = await buildContext(deps.db, request);
        if (summary && !seen.summarised) notice = 'ℹ Earlier messages were summarised to stay within the context window.';
        if (!summary && !seen.truncated) notice = `ℹ Only the last ${built.included.length} messages were used (summarising failed).`;
      } else if (!seen.truncated) {
        notice = `ℹ Only the last ${built.included.length} messages are used; older ones are left out.`;
      }
      if (notice) {
        const key = notice.includes('summarised') ? 'summarised' : 'truncated';
        const updated = JSON.stringify({ ...seen, [key]: true });
        await deps.conversations.update(conversation.id, { notices: updated });
        conversation = { ...conversation, notices: updated };
      }
    }
    const keepAlive = providerConfig?.kind === 'ollama' ? providerConfig.keepAlive : undefined;
    const params = {
      temperature: experience.params.temperature ?? undefined,
      maxTokens: experience.params.maxTokens ?? undefined,
      topP: experience.params.topP ?? undefined,
      ...(isOllama ? { contextLength } : {}),
      ...(keepAlive !== undefined ? { keepAlive } : {}),
    };
    return { built, notice, params, conversation };
  }

  private async buttons(reply: Reply, answer: MessageRow, outcome: StreamOutcome): Promise<ReplyButton[] | undefined> {
    if (!reply.capabilities.buttons || outcome.status === 'error') return undefined;
    const { siblings, index } = await this.deps.conversations.branchPointOf(answer.id);
    const buttons: ReplyButton[] = [];
    if (siblings.length > 1) {
      buttons.push({ action: 'prev', label: '◀' }, { action: 'next', label: `▶ ${index + 1}/${siblings.length}` });
    }
    buttons.push({ action: 'regen', label: 'Regenerate' });
    return buttons;
  }

  private async title(conversation: ConversationRow, userMessageId: number, choice: ModelChoice, usageBase: Parameters<typeof generateTitle>[3], reply: Reply): Promise<void> {
    try {
      const first = await this.deps.conversations.message(userMessageId);
      const title = await generateTitle(this.deps, first.content, choice.candidates, usageBase);
      await this.deps.conversations.update(conversation.id, { title });
      await reply.setTitle?.(title);
    } catch (err) {
      this.deps.log.warn('title generation failed', { error: String(err) });
    }
  }
}
