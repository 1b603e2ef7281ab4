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

/**
 * Whether a URL's host is this machine or a private network: loopback, RFC 1918 and link-local
 * IPv4 (also IPv4-mapped IPv6), IPv6 loopback, unique-local and link-local. Read from the parsed
 * URL, so `http://2130706433/` and `http://[::ffff:127.0.0.1]/` are the loopback they are.
 */
export function isLocalAddress(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return false;
  }
  if (host === 'localhost' || host.endsWith('.localhost') || host === '0.0.0.0' || host === '::1') return true;
  let octets: number[] | null = null;
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.\d+\.\d+$/.exec(host);
  const mapped = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(host);
  if (v4) octets = [Number(v4[1]), Number(v4[2])];
  else if (mapped) octets = [parseInt(mapped[1]!, 16) >> 8, parseInt(mapped[1]!, 16) & 0xff];
  if (octets) {
    const [a, b] = octets as [number, number];
    return a === 127 || a === 10 || (a === 192 && b === 168) || (a === 172 && b >= 16 && b <= 31) || (a === 169 && b === 254);
  }
  return /^(f[cd][0-9a-f]{2}|fe80):/.test(host);
}

/** Providers whose calls cost nothing: Ollama, and OpenAI-compatible servers on this machine or LAN. */
export function localProviderNames(config: Config): Set<string> {
  const local = new Set<string>();
  for (const [name, p] of Object.entries(config.providers)) {
    if (p.kind === 'ollama') local.add(name);
    else if (p.baseURL && isLocalAddress(p.baseURL)) local.add(name);
  }
  return local;
}
