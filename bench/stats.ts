/** Small helpers every benchmark prints with: `name: value unit` lines. */

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

export function summarise(samples: number[]): { median: number; p99: number; mean: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length };
}

/** The median and the tail of samples, for figures a user feels (a slow turn matters more than the mean says). */
export function spread(samples: number[]): { median: number; p95: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99) };
}

export function figure(name: string, value: number, unit: string, digits = 3): void {
  console.log(`${name}: ${Number.isFinite(value) ? value.toFixed(digits) : value} ${unit}`);
}
