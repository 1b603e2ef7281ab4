import type { TurnBudget } from '../budgets/planning.js';
import { mapPlatformMessages } from '../conversations/platform-messages.js';
import type { ConversationRow } from '../conversations/table.js';
import type { Experience } from '../experiences/service.js';
import type { Reply } from '../inbound.js';
import type { Logger } from '../log.js';
import { chooseModel, type ModelChoice } from '../providers/model-choice.js';
import type { StreamOutcome } from '../providers/router.js';
import { promptTokenEstimate } from '../usage/ledger.js';
import { closeAnswerReply, openAnswerReply } from './answer-reply.js';
import { citationLines, citedSources, sourcesMessage } from '../knowledge/citations.js';
import { sourcesForTurn } from './sources.js';
import { runToolLoop } from './tool-loop.js';
import { toolsForTurn } from './tool-offer.js';
import type { EngineDeps } from './deps.js';
import { footerOf, outcomeNotice, type TurnNotice } from './notices.js';
import { promptWindow } from './prompt-window.js';
import { RunningAnswers } from './running.js';
import { titleConversation } from './title.js';

export interface TurnUser {
  platform: string;
  id: string;
  name: string;
  /** an admin of Threadloom: may answer anyone's tool approvals, and tools may show them more */
  admin?: boolean;
  /** asked in a direct message, where only they read the answer */
  isDirect?: boolean;
}

export interface TurnInput {
  conversation: ConversationRow;
  /** the user message the answer goes under */
  parentId: number;
  reply: Reply;
  user: TurnUser;
  /** what to say under this answer, e.g. that it answers an edited message */
  notice?: TurnNotice;
  /** where this turn's lines go (the engine's carry the event's request id); else the shared log */
  log?: Logger;
}

export interface TurnResult {
  answerId: number;
  outcome: StreamOutcome;
  platformMessageIds: string[];
}

/** Runs one chat turn: route → prompt window → stream into the reply → persist the answer and usage. */
export class TurnRunner {
  private readonly running = new RunningAnswers();

  constructor(private readonly deps: EngineDeps) {}

  /** Whether any answer is being written now (its posts may not be known as it yet). */
  get busy(): boolean {
    return this.running.busy;
  }

  /** Aborts the conversation's running answers; what arrived is kept. */
  stop(conversationId: number): boolean {
    return this.running.stop(conversationId);
  }

  stopAll(): void {
    this.running.stopAll();
  }

  /** For a shutdown: answers finish within `graceMs`, the rest are cut and saved as partial. */
  drain(graceMs: number): Promise<{ finished: number; cut: number }> {
    return this.running.drain(graceMs);
  }

  async run(input: TurnInput): Promise<TurnResult> {
    const deps = input.log ? { ...this.deps, log: input.log } : this.deps;
    const { reply, user, parentId } = input;
    const experience = (await deps.experiences.getById(input.conversation.experience_id)) as Experience;
    const { choice, budget } = await this.route(input.conversation, experience, user);
    const usage = { platform: user.platform, userId: user.id, experienceId: experience.id, conversationId: input.conversation.id, messageId: null };

    const renderer = openAnswerReply(reply);
    const running = this.running.start(input.conversation.id);
    try {
      const tools = await toolsForTurn(deps, experience, choice, { canAsk: !reply.capabilities.appendOnly });
      const sources = await sourcesForTurn(deps, experience, parentId, user);
      const window = await promptWindow(deps, {
        conversation: input.conversation, experience, choice: tools.choice, leafId: parentId, userName: user.name, usage,
        toolTokens: tools.tokens, sources: sourcesMessage(sources),
      });
      const conversation = window.conversation;
      const promptEstimate = promptTokenEstimate(window.built.messages) + tools.tokens;
      await budget?.reserve(promptEstimate);
      const { answer, outcome, tools: used, stoppedAtLimit } = await runToolLoop(deps, {
        conversationId: conversation.id, parentId, choice: tools.choice, messages: window.built.messages, params: window.params,
        signal: running.signal, renderer, reply, usage, promptEstimate, budget,
        offered: tools.offered, policy: experience.tools,
        caller: { platform: user.platform, userId: user.id, userName: user.name, conversationId: conversation.id, experienceId: experience.id, admin: user.admin ?? false, isDirect: user.isDirect ?? false },
      });

      const ending: TurnNotice | null = running.cutByShutdown() ? { kind: 'restarting' } : outcomeNotice(outcome, tools.choice);
      const budgetNotes = (budget ? await budget.notes() : []).map((line): TurnNotice => ({ kind: 'budget', line }));
      const toolNotes: TurnNotice[] = [
        ...(tools.notice ? [tools.notice] : []),
        ...(used.length ? [{ kind: 'tools', used } as const] : []),
        ...(stoppedAtLimit ? [{ kind: 'tool-limit', rounds: experience.tools.maxRounds } as const] : []),
      ];
      const cited = citedSources(outcome.text, sources);
      if (cited.length) {
        await deps.conversations.recordSources(answer.id, cited.map(({ n, documentId, title, fileName, pageStart, pageEnd, headings }) => ({ n, documentId, title, fileName, pageStart, pageEnd, headings })));
      }
      const sourceNotes: TurnNotice[] = cited.length ? [{ kind: 'sources', lines: citationLines(cited) }] : [];
      const footer = footerOf([input.notice, window.notice, ...sourceNotes, ...toolNotes, ending, ...budgetNotes]);
      // the posts are known as this answer's before the last edit shows its buttons: a press on
      // Regenerate the moment it appears finds the answer
      const shownSoFar = renderer.messageIds;
      await mapPlatformMessages(deps.db, user.platform, shownSoFar, answer.id, conversation.id);
      const messageIds = await closeAnswerReply(deps, renderer, reply, { answer, outcome, footer });
      if (messageIds.join('\n') !== shownSoFar.join('\n')) await mapPlatformMessages(deps.db, user.platform, messageIds, answer.id, conversation.id);
      reply.answered?.();
      // a stopped turn (its client left, or Stop) leaves the title to the next one, and the provider's slots to others
      if (!conversation.title && !running.signal.aborted) await titleConversation(deps, conversation, parentId, choice.candidates, usage, reply);
      return { answerId: answer.id, outcome, platformMessageIds: messageIds };
    } catch (err) {
      renderer.abandon();
      throw err;
    } finally {
      budget?.release();
      running.finished();
    }
  }

  /**
   * The model, before anything reaches a provider: conversation → binding → Experience → default;
   * a spent budget refuses the turn, a nearly spent one may send it to a cheaper model.
   */
  private async route(conversation: ConversationRow, experience: Experience, user: TurnUser): Promise<{ choice: ModelChoice; budget: TurnBudget | null }> {
    const chosen = await chooseModel(this.deps, conversation, experience);
    const budget = this.deps.budgets ? await this.deps.budgets.plan(user, experience, chosen) : null;
    return { choice: budget?.choice ?? chosen, budget };
  }
}
