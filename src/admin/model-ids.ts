import { splitModelId } from '../core/providers/router.js';

/**
 * Model ids as the pickers send them: one text ("a\nb" or "a, b") or one field per fallback
 * (the same name repeated), and the check that each names a provider that exists now.
 */

/** Every non-empty id in a form field that may be a string or a repeated field. */
export function modelList(value: unknown): string[] {
  const parts = Array.isArray(value) ? value : [value];
  return parts.flatMap((p) => (typeof p === 'string' ? p.split(/[\s,]+/) : [])).map((m) => m.trim()).filter(Boolean);
}

/** Why `modelId` cannot be used (its provider is not configured or connected), or null. */
export function providerProblem(modelId: string, providers: readonly string[]): string | null {
  const { provider } = splitModelId(modelId);
  if (!provider || providers.includes(provider)) return null;
  return `${modelId}: no provider named "${provider}" is configured or connected (there are: ${providers.join(', ') || 'none'}); add it on the Connections page`;
}
