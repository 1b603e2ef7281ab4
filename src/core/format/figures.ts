/**
 * How Threadloom writes money, token counts and sizes, in the chat and in the admin alike:
 * `$1,234.56`, `$0.0042`, `$0`; `12,345` / `250k` / `12.5M` tokens; `1.9 GB`.
 */

// one formatter each: toLocaleString builds a new one per call, which a year of chart tooltips feels
const COUNT = new Intl.NumberFormat('en');
const DOLLARS = new Intl.NumberFormat('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/**
 * `$1,234.56`; a sum under a cent keeps two significant digits and at least four decimals
 * (`$0.0042`, `$0.000025`), so a cheap call never reads `$0.00`.
 */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  if (Math.abs(usd) < 0.01) return `$${usd.toFixed(Math.min(10, Math.max(4, 1 - Math.floor(Math.log10(Math.abs(usd))))))}`;
  return `$${DOLLARS.format(usd)}`;
}

/** `12,345` */
export function formatCount(n: number): string {
  return COUNT.format(Math.round(n));
}

/** Compact, for charts and tables: `9,999`, `250k`, `12.5M`. */
export function formatTokens(tokens: number): string {
  if (tokens >= 10_000_000) return `${(tokens / 1_000_000).toFixed(1)}M`;
  if (tokens >= 100_000) return `${COUNT.format(Math.round(tokens / 1000))}k`;
  return COUNT.format(tokens);
}

/** `1.9 GB`: sizes of models, backups and uploads. */
export function formatBytes(bytes: number): string {
  if (bytes <= 0) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  const power = Math.min(units.length - 1, Math.floor(Math.log(bytes) / Math.log(1024)));
  return `${(bytes / 1024 ** power).toFixed(power === 0 ? 0 : 1)} ${units[power]}`;
}
