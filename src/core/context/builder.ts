import type { Db } from '../db/open.js';
import type { MessageRow, SummaryRow } from '../conversations/table.js';
import type { ExperienceSpec } from '../experiences/schema.js';
import { recentPath } from '../conversations/repository.js';
import type { ChatMessage, ImagePart } from '../providers/types.js';
import { renderSystemPrompt, type PromptVariables } from './prompt.js';
import { estimateMessageTokens, estimateTokens } from './tokens.js';

export interface ModelWindow {
  contextLength: number;
  vision: boolean;
}

export interface ContextRequest {
  experience: ExperienceSpec;
  personaOverride: string | null;
  variables: PromptVariables;
  leafId: number | null;
  model: ModelWindow;
  reservedAnswerTokens: number;
}

export interface BuiltContext {
  messages: ChatMessage[];
  /** path messages included, oldest first */
  included: MessageRow[];
  summary: SummaryRow | null;
  /** messages on the path that are neither included nor covered by the summary */
  droppedCount: number;
  estimatedTokens: number;
  budget: number;
}

const SUMMARY_PREFIX = 'Summary of the earlier part of this conversation:\n';

export function tokenBudget(policy: ExperienceSpec['contextPolicy'], model: ModelWindow, reserved: number): number {
  const window = Math.max(256, model.contextLength - reserved);
  return policy.tokenBudget === null ? window : Math.min(policy.tokenBudget, window);
}

/**
 * The prompt for a turn: system prompt, the latest summary checkpoint on the branch, then the
 * newest path messages that fit both the message count and the token budget. Whole messages only:
 * an attachment never travels without its message. The newest message is always included.
 */
export async function buildContext(db: Db, request: ContextRequest): Promise<BuiltContext> {
  const { experience, model } = request;
  const policy = experience.contextPolicy;
  const system = renderSystemPrompt(experience, request.personaOverride, request.variables);
  const budget = tokenBudget(policy, model, request.reservedAnswerTokens);

  let path: MessageRow[] = [];
  let summary: SummaryRow | null = null;
  let olderBeyondWalk = false;
  if (request.leafId !== null) {
    const walk = await recentPath(db, request.leafId, policy.maxMessages + 1);
    path = walk.messages;
    if (walk.checkpointMessageId !== null) {
      summary = (await db
        .selectFrom('summaries')
        .selectAll()
        .where('message_id', '=', walk.checkpointMessageId)
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst()) ?? null;
      path = path.slice(1); // the checkpoint message itself is covered by the summary
    } else {
      olderBeyondWalk = !walk.reachedRoot;
    }
  }
  // answers that failed or are still being written have nothing to show a model yet
  path = path.filter((m) => !(m.role === 'assistant' && m.content === ''));

  let used = estimateTokens(system) + 4 + (summary ? summary.token_count + 4 : 0);
  const included: MessageRow[] = [];
  for (let i = path.length - 1; i >= 0; i--) {
    const message = path[i]!;
    const cost = message.token_count || estimateMessageTokens(message.content, 0);
    const fits = included.length < policy.maxMessages && used + cost <= budget;
    if (!fits && included.length > 0) break;
    included.unshift(message);
    used += cost;
  }
  const dropped = path.slice(0, path.length - included.length);
  const droppedCount = dropped.length + (olderBeyondWalk ? 1 : 0);

  const images = await imagesFor(db, included.map((m) => m.id));
  const messages: ChatMessage[] = [{ role: 'system', content: system }];
  if (summary) messages.push({ role: 'system', content: SUMMARY_PREFIX + summary.content });
  for (const m of included) {
    const attached = images.get(m.id) ?? [];
    const chat: ChatMessage = { role: m.role, content: m.content };
    if (attached.length && model.vision) chat.images = attached.map((a) => a.image);
    else if (attached.length) chat.content += attached.map((a) => `\n[image "${a.name}" attached; this model cannot see images]`).join('');
    messages.push(chat);
  }
  return { messages, included, summary, droppedCount, estimatedTokens: used, budget };
}

async function imagesFor(db: Db, messageIds: number[]): Promise<Map<number, Array<{ name: string; image: ImagePart }>>> {
  const byMessage = new Map<number, Array<{ name: string; image: ImagePart }>>();
  if (messageIds.length === 0) return byMessage;
  const rows = await db
    .selectFrom('attachments')
    .select(['message_id', 'name', 'mime_type', 'data'])
    .where('message_id', 'in', messageIds)
    .where('mime_type', 'like', 'image/%')
    .orderBy('id')
    .execute();
  for (const row of rows) {
    if (!row.data) continue;
    const list = byMessage.get(row.message_id) ?? [];
    list.push({ name: row.name, image: { mimeType: row.mime_type, data: row.data } });
    byMessage.set(row.message_id, list);
  }
  return byMessage;
}
