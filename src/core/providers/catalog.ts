import type { ProviderRouter } from './router.js';
import { splitModelId } from './router.js';
import type { GenerationParams, ModelInfo } from './types.js';

/** What a chat turn with one model may fill, and the params its provider adds. */
export interface TurnWindow {
  contextLength: number;
  vision: boolean;
  params: GenerationParams;
}

export interface ModelEntry extends ModelInfo {
  /** `provider/model` */
  id: string;
  provider: string;
}

const CAPABILITY_TTL_MS = 10 * 60_000;
/** how long a provider's model list serves the pickers before it is asked again */
const LISTING_TTL_MS = 60_000;
const LISTING_TIMEOUT_MS = 5_000;

/**
 * What each model can do (context length, images), asked of its provider once and cached for a
 * while; a provider that cannot tell gets conservative defaults so a turn never waits on it twice.
 */
export class ModelCatalog {
  private readonly cache = new Map<string, { info: ModelEntry; at: number }>();
  /** model ids per provider for the pickers, and the listing under way */
  private readonly listed = new Map<string, { ids: string[]; at: number }>();
  private readonly listing = new Map<string, Promise<void>>();

  constructor(
    private readonly router: ProviderRouter,
    private readonly defaultContextLength: number,
    private readonly now: () => number = Date.now,
  ) {}

  async capabilities(modelId: string): Promise<ModelEntry> {
    const cached = this.cache.get(modelId);
    if (cached && this.now() - cached.at < CAPABILITY_TTL_MS) return cached.info;
    const { provider: providerName, model } = splitModelId(modelId);
    const provider = this.router.provider(providerName);
    let info: ModelInfo = { name: model, contextLength: null, vision: false, tools: false };
    if (provider) {
      try {
        info = await provider.capabilities(model, AbortSignal.timeout(5_000));
      } catch {
        // unreachable provider: the defaults below; the turn itself will report the failure
      }
    }
    const entry: ModelEntry = { ...info, id: modelId, provider: providerName, contextLength: info.contextLength ?? this.defaultContextLength };
    this.cache.set(modelId, { info: entry, at: this.now() });
    return entry;
  }

  /** The window of a chat turn with this model: its context length as its provider sizes it. */
  async window(modelId: string): Promise<TurnWindow> {
    const info = await this.capabilities(modelId);
    const contextLength = info.contextLength ?? this.defaultContextLength;
    const shaped = this.router.provider(info.provider)?.chatWindow?.(contextLength, this.defaultContextLength);
    return { contextLength: shaped?.contextLength ?? contextLength, vision: info.vision, params: shaped?.params ?? {} };
  }

  /** Every model every provider lists now; providers that fail are reported, not thrown. */
  async list(): Promise<{ models: ModelEntry[]; unreachable: Array<{ provider: string; error: string }> }> {
    const models: ModelEntry[] = [];
    const unreachable: Array<{ provider: string; error: string }> = [];
    await Promise.all(
      this.router.providerNames.map(async (name) => {
        try {
          const listed = await this.router.provider(name)!.listModels(AbortSignal.timeout(5_000));
          for (const m of listed) models.push({ ...m, id: `${name}/${m.name}`, provider: name, contextLength: m.contextLength ?? this.defaultContextLength });
        } catch (err) {
          unreachable.push({ provider: name, error: err instanceof Error ? err.message : String(err) });
        }
      }),
    );
    models.sort((a, b) => a.id.localeCompare(b.id));
    return { models, unreachable };
  }

  /**
   * Model ids (`provider/model`) for the pickers: each provider's last listing while fresh, else a
   * new one; waits at most `waitMs`, so a slow provider adds what it had (or nothing) rather than
   * stalling the page. Its listing goes on and serves the next page.
   */
  async knownIds(waitMs = 1_500): Promise<string[]> {
    const names = this.router.providerNames;
    const pending = names.flatMap((name) => {
      const cached = this.listed.get(name);
      if (cached && this.now() - cached.at < LISTING_TTL_MS) return [];
      return [this.refreshListing(name)];
    });
    if (pending.length) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(pending), new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
    }
    return names.flatMap((name) => this.listed.get(name)?.ids ?? []).sort((a, b) => a.localeCompare(b));
  }

  private refreshListing(name: string): Promise<void> {
    const running = this.listing.get(name);
    if (running) return running;
    const provider = this.router.provider(name);
    const job = (async () => {
      try {
        const models = provider ? await provider.listModels(AbortSignal.timeout(LISTING_TIMEOUT_MS)) : [];
        if (this.router.provider(name) === provider) this.listed.set(name, { ids: models.map((m) => `${name}/${m.name}`), at: this.now() });
      } catch {
        // unreachable: keep what it listed last; the Models page and the dashboard say why
      } finally {
        this.listing.delete(name);
      }
    })();
    this.listing.set(name, job);
    return job;
  }

  /** Forgets what a provider said (its connection was added, changed or removed). */
  forget(provider: string): void {
    this.listed.delete(provider);
    this.listing.delete(provider);
    for (const id of this.cache.keys()) if (splitModelId(id).provider === provider) this.cache.delete(id);
  }
}
