import { apiKeyFor, type Config } from '../config.js';
import type { ProviderLimits } from './router.js';
import type { Provider } from './types.js';

type Env = Record<string, string | undefined>;

/**
 * One Provider per configured entry, by name (`openai`, `lmstudio`, `ollama`, ...). Each SDK is
 * loaded only when a provider of its kind is configured: the Anthropic SDK alone holds ~24 MB.
 */
export async function createProviders(config: Config, env: Env = process.env): Promise<Map<string, Provider>> {
  const providers = new Map<string, Provider>();
  for (const [name, entry] of Object.entries(config.providers)) {
    switch (entry.kind) {
      case 'openai': {
        const { createOpenAIProvider } = await import('./openai.js');
        providers.set(name, createOpenAIProvider({ name, apiKey: apiKeyFor(entry, env), baseURL: entry.baseURL }));
        break;
      }
      case 'anthropic': {
        const { createAnthropicProvider } = await import('./anthropic.js');
        providers.set(name, createAnthropicProvider({ name, apiKey: apiKeyFor(entry, env), baseURL: entry.baseURL }));
        break;
      }
      case 'ollama': {
        const { createOllamaProvider } = await import('./ollama.js');
        providers.set(name, createOllamaProvider({ name, host: entry.host, keepAlive: entry.keepAlive }));
        break;
      }
    }
  }
  return providers;
}

export function providerLimits(config: Config): Record<string, ProviderLimits> {
  return Object.fromEntries(
    Object.entries(config.providers).map(([name, p]) => [name, { maxConcurrent: p.maxConcurrent, requestsPerMinute: p.requestsPerMinute }]),
  );
}

/** Providers whose calls cost nothing: Ollama, and OpenAI-compatible servers on this machine or LAN. */
export function localProviderNames(config: Config): Set<string> {
  const local = new Set<string>();
  for (const [name, p] of Object.entries(config.providers)) {
    if (p.kind === 'ollama') local.add(name);
    else if (p.baseURL && /^https?:\/\/(localhost|127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|\[::1\])/.test(p.baseURL)) local.add(name);
  }
  return local;
}
