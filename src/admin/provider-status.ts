import { errorMessage } from '../core/errors.js';
import type { ProviderRouter } from '../core/providers/router.js';

/** Whether each configured provider answers a model listing, asked at most every CACHE_MS. */

export interface ProviderStatus {
  name: string;
  kind: string;
  reachable: boolean;
  /** "12 models" or the error */
  detail: string;
  checkedAt: Date;
}

const PROBE_TIMEOUT_MS = 3_000;
const CACHE_MS = 30_000;

export class ProviderProbe {
  private cached: { at: number; statuses: ProviderStatus[] } | null = null;

  constructor(private readonly router: ProviderRouter, private readonly now: () => Date) {}

  async statuses(options: { fresh?: boolean } = {}): Promise<ProviderStatus[]> {
    const now = this.now().getTime();
    if (!options.fresh && this.cached && now - this.cached.at < CACHE_MS) return this.cached.statuses;
    const statuses = await Promise.all(this.router.providerNames.map((name) => this.probe(name)));
    this.cached = { at: now, statuses };
    return statuses;
  }

  private async probe(name: string): Promise<ProviderStatus> {
    const provider = this.router.provider(name)!;
    const checkedAt = this.now();
    try {
      const models = await provider.listModels(AbortSignal.timeout(PROBE_TIMEOUT_MS));
      return { name, kind: provider.kind, reachable: true, detail: `${models.length} model${models.length === 1 ? '' : 's'}`, checkedAt };
    } catch (err) {
      return { name, kind: provider.kind, reachable: false, detail: errorMessage(err).slice(0, 300), checkedAt };
    }
  }
}
