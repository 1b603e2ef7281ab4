/** Helpers the platform directories share: short-lived answers, and bounded fan-out. */

/** Answers (or their promises) kept for `ttlMs`; a load that fails is forgotten at once. */
export class Expiring<V> {
  private readonly entries = new Map<string, { value: Promise<V>; until: number }>();
  constructor(private readonly ttlMs: number) {}

  getOrLoad(key: string, load: () => Promise<V>): Promise<V> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.value;
    if (this.entries.size > 10_000) for (const [k, e] of this.entries) if (e.until <= now) this.entries.delete(k);
    const value = load();
    this.entries.set(key, { value, until: now + this.ttlMs });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }
}

/** Runs `work` on every item, at most `limit` at a time. */
export async function mapBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
