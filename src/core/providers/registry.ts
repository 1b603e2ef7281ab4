import { apiKeyFor, type Config } from '../config.js';
import type { ProviderLimits } from './router.js';
import type { ChatChunk, ChatRequest, Provider } from './types.js';

type Env = Record<string, string | undefined>;

/** What one provider is built from: a config entry with its key resolved, or a stored connection. */
export type ProviderSpec =
  | { kind: 'openai' | 'anthropic'; apiKey?: string | undefined; baseURL?: string | undefined }
  | { kind: 'ollama'; host: string; keepAlive?: string | number | undefined };

/**
 * Builds one provider. The hosted kinds' SDKs load on the provider's first call, not when it is
 * made: the start does not wait for them (the OpenAI SDK is ~100 ms of loading, the Anthropic one
 * ~250 ms and ~24 MB), and a kind that is configured but never used is never loaded.
 */
export async function createProvider(name: string, spec: ProviderSpec): Promise<Provider> {
  switch (spec.kind) {
    case 'openai':
      return onFirstCall(name, spec.kind, async () => (await import('./openai.js')).createOpenAIProvider({ name, apiKey: spec.apiKey, baseURL: spec.baseURL }));
    case 'anthropic':
      return onFirstCall(name, spec.kind, async () => (await import('./anthropic.js')).createAnthropicProvider({ name, apiKey: spec.apiKey, baseURL: spec.baseURL }));
    case 'ollama': {
      const { createOllamaProvider } = await import('./ollama.js');
      return createOllamaProvider({ name, host: spec.host, keepAlive: spec.keepAlive });
    }
  }
}

/** A provider made by `make` on its first call; once made, each call goes straight to it (no chatWindow: only Ollama has one). */
function onFirstCall(name: string, kind: 'openai' | 'anthropic', make: () => Promise<Provider>): Provider {
  let made: Provider | undefined;
  let making: Promise<Provider> | undefined;
  const provider = async (): Promise<Provider> => made ?? (made = await (making ??= make()));
  async function* streamLater(request: ChatRequest): AsyncGenerator<ChatChunk> {
    yield* (await provider()).streamChat(request);
  }
  return {
    name,
    kind,
    streamChat: (request) => made?.streamChat(request) ?? streamLater(request),
    listModels: async (signal) => (await provider()).listModels(signal),
    embed: async (model, texts, signal) => (await provider()).embed(model, texts, signal),
    capabilities: async (model, signal) => (await provider()).capabilities(model, signal),
  };
}

/** One Provider per configured entry, by name (`openai`, `lmstudio`, `ollama`, ...). */
export async function createProviders(config: Config, env: Env = process.env): Promise<Map<string, Provider>> {
  const providers = new Map<string, Provider>();
  for (const [name, entry] of Object.entries(config.providers)) {
    const spec: ProviderSpec = entry.kind === 'ollama'
      ? { kind: 'ollama', host: entry.host, keepAlive: entry.keepAlive }
      : { kind: entry.kind, apiKey: apiKeyFor(entry, env), baseURL: entry.baseURL };
    providers.set(name, await createProvider(name, spec));
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

/** Whether a provider's calls cost nothing: Ollama, or an OpenAI-compatible server on this machine or LAN. */
export function isLocalProvider(spec: { kind: string; baseURL?: string | undefined }): boolean {
  return spec.kind === 'ollama' || (spec.baseURL !== undefined && isLocalAddress(spec.baseURL));
}

/** The configured providers whose calls cost nothing (isLocalProvider). */
export function localProviderNames(config: Config): Set<string> {
  return new Set(Object.entries(config.providers).filter(([, p]) => isLocalProvider(p)).map(([name]) => name));
}
