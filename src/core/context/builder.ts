import type { Db } from '../db/open.js';
import type { MessageRow, SummaryRow } from '../conversations/table.js';
import type { ExperienceSpec } from '../experiences/schema.js';
import { recentPath } from '../conversations/repository.js';
import type { ChatMessage, ImagePart } from '../providers/types.js';
import { renderSystemPrompt, type PromptVariables } from './prompt.js';
import { estimateMessageTokens, estimateTokens } from './tokens.js';
import { readJson } from '../json-column.js';

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
  /** what the tools offered take of the prompt (their names, descriptions and schemas) */
  toolTokens?: number;
  /** the Experience's documents retrieved for this question, as one system message */
  sources?: { message: string; tokens: number } | null;
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
  path = path.filter((m) => !(m.role === 'assistant' && m.content === '' && !m.tool_calls));

  // an answer's tool calls and their results travel together or not at all: providers refuse a
  // result without its call and a call without its result
  let used = estimateTokens(system) + 4 + (summary ? summary.token_count + 4 : 0) + (request.toolTokens ?? 0) + (request.sources?.tokens ?? 0);
  const units = toolUnits(path);
  let kept = 0;
  let unitsKept = 0;
  for (let u = units.length - 1; u >= 0; u--) {
    const unit = units[u]!;
    const cost = unit.reduce((sum, m) => sum + (m.token_count || estimateMessageTokens(m.content, 0)), 0);
    const fits = kept + unit.length <= Math.max(policy.maxMessages, unit.length) && used + cost <= budget;
    if (!fits && kept > 0) break;
    kept += unit.length;
    unitsKept++;
    used += cost;
  }
  const included = units.slice(units.length - unitsKept).flat();
  const droppedCount = units.slice(0, units.length - unitsKept).flat().length + (olderBeyondWalk ? 1 : 0);

  const images = await imagesFor(db, included.map((m) => m.id));
  const messages: ChatMessage[] = [{ role: 'system', content: system }];
  if (summary) messages.push({ role: 'system', content: SUMMARY_PREFIX + summary.content });
  if (request.sources) messages.push({ role: 'system', content: request.sources.message });
  for (const unit of units.slice(units.length - unitsKept)) messages.push(...toolChat(unit, images, model.vision));
  return { messages, included, summary, droppedCount, estimatedTokens: used, budget };
}

/**
 * The path in units that are included whole: a message, or an answer that called tools with the
 * results that follow it. A result whose call is not there (the loop was cut) is left out.
 */
export function toolUnits(path: MessageRow[]): MessageRow[][] {
  const units: MessageRow[][] = [];
  for (const m of path) {
    const last = units.at(-1);
    if (m.role === 'tool') {
      if (last && last[0]!.role === 'assistant' && last[0]!.tool_calls) last.push(m);
      continue;
    }
    units.push([m]);
  }
  return units;
}

type AttachedImages = Map<number, Array<{ name: string; image: ImagePart }>>;

/** One unit as chat messages: the calls that have results, then those results, in order. */
function toolChat(unit: MessageRow[], images: AttachedImages, vision: boolean): ChatMessage[] {
  const [head, ...results] = unit as [MessageRow, ...MessageRow[]];
  if (head.role === 'tool') return [];
  if (!head.tool_calls) return [plainChat(head, images, vision)];
  const answered = new Set(results.map((r) => r.tool_call_id));
  const calls = readJson(head.tool_calls).filter((c) => answered.has(c.id));
  const called = new Set(calls.map((c) => c.id));
  const out: ChatMessage[] = [];
  if (calls.length) out.push({ role: 'assistant', content: head.content, toolCalls: calls });
  else if (head.content) out.push({ role: 'assistant', content: head.content });
  for (const r of results) {
    if (!r.tool_call_id || !called.has(r.tool_call_id)) continue;
    const meta = r.tool_meta ? readJson(r.tool_meta) : null;
    out.push({ role: 'tool', content: r.content, toolCallId: r.tool_call_id, toolName: r.tool_name ?? '', isError: meta ? meta.status !== 'ok' : false });
  }
  return out;
}

function plainChat(m: MessageRow, images: AttachedImages, vision: boolean): ChatMessage {
  const attached = images.get(m.id) ?? [];
  const chat: ChatMessage = { role: m.role, content: m.content };
  if (attached.length && vision) chat.images = attached.map((a) => a.image);
  else if (attached.length) chat.content += attached.map((a) => `\n[image "${a.name}" attached; this model cannot see images]`).join('');
  return chat;
}

async function imagesFor(db: Db, messageIds: number[]): Promise<AttachedImages> {
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
