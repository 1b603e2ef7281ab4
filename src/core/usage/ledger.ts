import type { Db } from '../db/open.js';
import type { NewUsageEventRow, UsagePurpose, UsageStatus } from './table.js';
import { estimateTokens } from '../context/tokens.js';
import type { ChatMessage } from '../providers/types.js';
import type { PriceTable } from '../providers/pricing.js';
import type { ProviderCall } from '../providers/router.js';

/** Who a provider call was made for. */
export interface UsageContext {
  platform: string | null;
  userId: string | null;
  experienceId: number | null;
  conversationId: number | null;
  messageId: number | null;
  purpose: UsagePurpose;
}

export function promptTokenEstimate(messages: ChatMessage[]): number {
  return messages.reduce((sum, m) => sum + estimateTokens(m.content) + (m.toolCalls ? estimateTokens(JSON.stringify(m.toolCalls)) : 0) + 4, 0);
}

/**
 * Turns a provider call into one append-only usage row. Token counts come from the provider;
 * when it sent none they are estimated and the row says so. Cost is fixed at write time.
 */
export function usageRow(
  call: ProviderCall,
  context: UsageContext,
  prices: PriceTable,
  promptEstimate: number,
  status: UsageStatus = call.status,
): NewUsageEventRow {
  // a call that failed before any text was read is not charged: most never reached a model
  const nothingServed = call.usage === null && call.status === 'error' && call.outputText === '';
  const estimated = call.usage === null && !nothingServed;
  const usage = call.usage ?? (nothingServed ? { inputTokens: 0, outputTokens: 0 } : { inputTokens: promptEstimate, outputTokens: estimateTokens(call.outputText) });
  return {
    platform: context.platform,
    user_id: context.userId,
    experience_id: context.experienceId,
    conversation_id: context.conversationId,
    message_id: context.messageId,
    provider: call.provider,
    model: call.modelId,
    purpose: context.purpose,
    tokens_in: usage.inputTokens,
    tokens_out: usage.outputTokens,
    estimated: estimated ? 1 : 0,
    cost_usd: prices.cost(call.modelId, usage),
    latency_ms: call.latencyMs,
    ttft_ms: call.ttftMs,
    status,
    error: call.error ? call.error.message.slice(0, 500) : null,
  };
}

/** Told each batch once it is written (e.g. the /metrics counters). Must not throw. */
export type UsageObserver = (rows: readonly NewUsageEventRow[]) => void;

const observers = new WeakMap<Db, Set<UsageObserver>>();

/** Watches the rows recorded into one database; returns the function that stops watching. */
export function observeUsage(db: Db, observer: UsageObserver): () => void {
  const set = observers.get(db) ?? new Set<UsageObserver>();
  set.add(observer);
  observers.set(db, set);
  return () => set.delete(observer);
}

export async function recordUsage(db: Db, rows: NewUsageEventRow[]): Promise<void> {
  if (!rows.length) return;
  await db.insertInto('usage_events').values(rows).execute();
  for (const observer of observers.get(db) ?? []) {
    try {
      observer(rows);
    } catch {
      // an observer's failure must never fail the turn that was recorded
    }
  }
}

export interface UsageTotals {
  turns: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
}

/** Totals for one user (or everyone) since a time, from the ledger's time index. */
export async function usageSince(db: Db, since: Date, who?: { platform: string; userId: string }): Promise<UsageTotals> {
  const row = await db
    .selectFrom('usage_events')
    .select((eb) => [
      eb.fn.count<number>('id').filterWhere('purpose', '=', 'chat').as('turns'),
      eb.fn.coalesce(eb.fn.sum<number>('tokens_in'), eb.val(0)).as('tokensIn'),
      eb.fn.coalesce(eb.fn.sum<number>('tokens_out'), eb.val(0)).as('tokensOut'),
      eb.fn.coalesce(eb.fn.sum<number>('cost_usd'), eb.val(0)).as('costUsd'),
    ])
    .where('created_at', '>=', since.toISOString())
    .$if(who !== undefined, (qb) => qb.where('platform', '=', who!.platform).where('user_id', '=', who!.userId))
    .executeTakeFirstOrThrow();
  return { turns: Number(row.turns), tokensIn: Number(row.tokensIn), tokensOut: Number(row.tokensOut), costUsd: Number(row.costUsd) };
}

/** What embedding an Experience's documents (and its questions to them) has cost, all time. */
export async function knowledgeSpend(db: Db, experienceId: number): Promise<{ calls: number; tokens: number; costUsd: number }> {
  const row = await db
    .selectFrom('usage_events')
    .select((eb) => [
      eb.fn.count<number>('id').as('calls'),
      eb.fn.coalesce(eb.fn.sum<number>('tokens_in'), eb.val(0)).as('tokens'),
      eb.fn.coalesce(eb.fn.sum<number>('cost_usd'), eb.val(0)).as('costUsd'),
    ])
    .where('purpose', '=', 'knowledge')
    .where('experience_id', '=', experienceId)
    .executeTakeFirstOrThrow();
  return { calls: Number(row.calls), tokens: Number(row.tokens), costUsd: Number(row.costUsd) };
}

/** The latest failed provider calls, newest first, for the dashboard. */
export async function recentFailures(db: Db, limit: number) {
  return db
    .selectFrom('usage_events')
    .select(['created_at', 'platform', 'provider', 'model', 'purpose', 'error'])
    .where('status', '=', 'error')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
