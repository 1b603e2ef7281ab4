import { estimateTokens } from '../context/tokens.js';
import type { Db } from '../db/open.js';
import type { ProviderError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PriceTable } from '../providers/pricing.js';
import { splitModelId } from '../providers/router.js';
import type { TokenUsage } from '../providers/types.js';
import { recordUsage, usageRow, type UsageContext } from './ledger.js';

export interface EmbeddingCall {
  modelId: string;
  texts: readonly string[];
  /** what the provider reported; null when it sent nothing (then estimated from the texts) */
  usage: TokenUsage | null;
  /** true once the provider answered: an embedding that worked is charged even if unusable */
  answered: boolean;
  latencyMs: number;
  error: ProviderError | null;
}

/**
 * One usage row for an embedding call: `embedding` for conversation search, `knowledge` for
 * documents and the questions asked of them, so Usage tells them apart. A failure to write it is
 * logged, never thrown.
 */
export async function recordEmbedding(
  deps: { db: Db; prices: PriceTable; log: Logger },
  call: EmbeddingCall,
  who: Omit<UsageContext, 'purpose' | 'conversationId' | 'messageId'> = { platform: null, userId: null, experienceId: null },
  purpose: Extract<UsageContext['purpose'], 'embedding' | 'knowledge'> = 'embedding',
): Promise<void> {
  const { provider, model } = splitModelId(call.modelId);
  const providerCall = {
    modelId: call.modelId, provider, model, usage: call.usage, outputText: '', latencyMs: call.latencyMs, ttftMs: null,
    // an answer that could not be used is still an answer: charged, with the error beside it
    status: call.error && !call.answered ? ('error' as const) : ('ok' as const), error: call.error,
  };
  const estimate = call.answered ? call.texts.reduce((sum, t) => sum + estimateTokens(t), 0) : 0;
  try {
    const row = usageRow(providerCall, { ...who, conversationId: null, messageId: null, purpose }, deps.prices, estimate);
    await recordUsage(deps.db, [call.error ? { ...row, status: 'error' } : row]);
  } catch (err) {
    deps.log.warn(`${purpose === 'knowledge' ? 'knowledge' : 'search'}: could not record embedding usage: ${(err as Error).message}`);
  }
}
