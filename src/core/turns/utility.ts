import { configSecrets, type Config } from '../config.js';
import type { UsagePurpose } from '../usage/table.js';
import type { ChatMessage } from '../providers/types.js';
import { redactSecrets } from '../redact.js';
import { promptTokenEstimate, recordUsage, usageRow, type UsageContext } from '../usage/ledger.js';
import type { EngineDeps } from './deps.js';

/** Provider error text as it is stored (answers, usage rows): a provider may have echoed one of our keys in it. */
export function storedError(message: string, config: Config): string {
  return redactSecrets(message, configSecrets(config));
}

type UsageRow = ReturnType<typeof usageRow>;

export const withStoredError = (row: UsageRow, config: Config): UsageRow => (row.error ? { ...row, error: storedError(row.error, config) } : row);

/**
 * A behind-the-scenes model call (title, summary): the utility model first if configured, then
 * the turn's own models. Usage is recorded; failure returns null and never reaches the user.
 */
export async function utilityCompletion(
  deps: EngineDeps,
  request: { purpose: UsagePurpose; candidates: string[]; messages: ChatMessage[]; maxTokens: number; usage: Omit<UsageContext, 'purpose'> },
): Promise<{ text: string; modelId: string } | null> {
  const candidates = deps.config.utilityModel ? [deps.config.utilityModel, ...request.candidates] : request.candidates;
  const rows: Parameters<typeof recordUsage>[1] = [];
  const estimate = promptTokenEstimate(request.messages);
  const outcome = await deps.router.stream({
    candidates,
    messages: request.messages,
    params: { maxTokens: request.maxTokens, temperature: 0.3 },
    onCall: (call) => rows.push(withStoredError(usageRow(call, { ...request.usage, purpose: request.purpose }, deps.prices, estimate), deps.config)),
  });
  await recordUsage(deps.db, rows).catch((err) => deps.log.error('usage write failed', { error: String(err) }));
  if (outcome.status !== 'ok' || !outcome.text.trim() || !outcome.modelId) {
    deps.log.warn(`${request.purpose} generation failed`, { error: outcome.error?.message });
    return null;
  }
  return { text: outcome.text.trim(), modelId: outcome.modelId };
}
