/**
 * Threadloom's calendar is UTC: budgets reset, usage is summed and "today" begins at 00:00 UTC,
 * whatever the server's time zone. Days are written `2026-11-22`, months `2026-11`.
 */

const DAY_MS = 86_400_000;
const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

export function startOfUtcDay(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
}

export function startOfUtcMonth(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

/** `2026-11-22` */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** `2026-11` */
export function utcMonth(at: Date): string {
  return at.toISOString().slice(0, 7);
}

/** The start of a `2026-11-22` day; null when the text is no real date (`2026-02-30`). */
export function parseUtcDay(day: string): Date | null {
  if (!DAY_PATTERN.test(day)) return null;
  const parsed = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && utcDay(parsed) === day ? parsed : null;
}

/** `2026-11-22` plus `days` (negative goes back). */
export function addUtcDays(day: string, days: number): string {
  return utcDay(new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS));
}

/** Whole days from one `YYYY-MM-DD` to another. */
export function utcDaysBetween(from: string, to: string): number {
  return (Date.parse(to) - Date.parse(from)) / DAY_MS;
}
