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

/**
 * What each model can do (context length, images), asked of its provider once and cached for a
 * while; a provider that cannot tell gets conservative defaults so a turn never waits on it twice.
 */
export class ModelCatalog {
  private readonly cache = new Map<string, { info: ModelEntry; at: number }>();

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
}
