import { estimateTokens } from '../context/tokens.js';
import type { Db } from '../db/open.js';
import type { ProviderError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PriceTable } from '../providers/pricing.js';
import { splitModelId } from '../providers/router.js';
import type { TokenUsage } from '../providers/types.js';
import { recordUsage, usageRow } from '../usage/ledger.js';

/**
 * One `knowledge` usage row for an embedding call (chunks, or a question), so the usage page
 * tells knowledge apart from conversation search. A failure to write it is logged, never thrown.
 */
export async function recordKnowledgeEmbedding(
  deps: { db: Db; prices: PriceTable; log: Logger },
  call: { modelId: string; texts: readonly string[]; usage: TokenUsage | null; latencyMs: number; error: ProviderError | null; answered: boolean },
  who: { experienceId: number | null; platform?: string | null; userId?: string | null },
): Promise<void> {
  const { provider, model } = splitModelId(call.modelId);
  const status = call.error && !call.answered ? ('error' as const) : ('ok' as const);
  const estimate = call.answered ? call.texts.reduce((sum, t) => sum + estimateTokens(t), 0) : 0;
  try {
    const row = usageRow(
      { modelId: call.modelId, provider, model, usage: call.usage, outputText: '', latencyMs: call.latencyMs, ttftMs: null, status, error: call.error },
      { platform: who.platform ?? null, userId: who.userId ?? null, experienceId: who.experienceId, conversationId: null, messageId: null, purpose: 'knowledge' },
      deps.prices,
      estimate,
    );
    await recordUsage(deps.db, [call.error ? { ...row, status: 'error' } : row]);
  } catch (err) {
    deps.log.warn(`knowledge: could not record embedding usage: ${(err as Error).message}`);
  }
}
