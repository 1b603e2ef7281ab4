import { buildContext, type BuiltContext } from '../context/builder.js';
import { promptVariables } from '../context/prompt.js';
import type { ConversationRow } from '../conversations/table.js';
import type { Experience } from '../experiences/service.js';
import type { ModelChoice } from '../providers/model-choice.js';
import type { GenerationParams } from '../providers/types.js';
import type { UsageContext } from '../usage/ledger.js';
import type { EngineDeps } from './deps.js';
import { markShown, shownBefore, type OnceNotice } from './notices.js';
import { summariseFallenOut } from './summarize.js';

export interface PromptWindowRequest {
  conversation: ConversationRow;
  experience: Experience;
  choice: ModelChoice;
  /** the message the answer goes under: the newest on the branch */
  leafId: number;
  userName: string;
  /** who a summary call is recorded for */
  usage: Omit<UsageContext, 'purpose'>;
  /** what the offered tools take of the prompt */
  toolTokens?: number;
  /** the retrieved sources, as one system message */
  sources?: { message: string; tokens: number } | null;
}

export interface PromptWindow {
  built: BuiltContext;
  params: GenerationParams;
  /** set the first time older messages fell out of this conversation's window */
  notice: OnceNotice | null;
  /** with the notice recorded, when there is one */
  conversation: ConversationRow;
}

/**
 * Step 4 of a turn: the prompt from the branch path within the model's window. When older
 * messages fall out, they are summarised into a checkpoint (if the Experience says so) and the
 * conversation is told once.
 */
export async function promptWindow(deps: EngineDeps, request: PromptWindowRequest): Promise<PromptWindow> {
  const { experience, choice } = request;
  let { conversation } = request;
  const window = await deps.catalog.window(choice.modelId);
  const context = {
    experience,
    personaOverride: conversation.persona_override,
    variables: promptVariables(deps.now(), request.userName, choice.modelId, experience.name),
    leafId: request.leafId,
    model: { contextLength: window.contextLength, vision: window.vision },
    reservedAnswerTokens: experience.params.maxTokens ?? deps.config.context.reservedAnswerTokens,
    toolTokens: request.toolTokens ?? 0,
    sources: request.sources ?? null,
  };
  let built = await buildContext(deps.db, context);
  let notice: OnceNotice | null = null;
  if (built.droppedCount > 0) {
    let summarised = false;
    if (experience.contextPolicy.summarize) {
      summarised = (await summariseFallenOut(deps, conversation, built, experience.contextPolicy.maxMessages, choice.candidates, request.usage)) !== null;
      if (summarised) built = await buildContext(deps.db, context);
    }
    notice = summarised ? { kind: 'summarised' } : { kind: 'truncated', kept: built.included.length, summaryFailed: experience.contextPolicy.summarize };
    if (shownBefore(conversation, notice.kind)) notice = null;
    else conversation = await markShown(deps.conversations, conversation, notice.kind);
  }
  const params: GenerationParams = {
    temperature: experience.params.temperature ?? undefined,
    maxTokens: experience.params.maxTokens ?? undefined,
    topP: experience.params.topP ?? undefined,
    ...window.params,
  };
  return { built, params, notice, conversation };
}
