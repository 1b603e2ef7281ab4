import { startOfUtcDay, startOfUtcMonth, utcDay, utcMonth } from '../format/utc.js';
import type { BudgetPeriodName } from './table.js';

/** Budget periods are UTC days and UTC months; a new one starts from zero. */
export type BudgetPeriod = BudgetPeriodName;

export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['daily', 'monthly'];

/** One concrete period: `2026-11-22` (a day) or `2026-11` (a month), from start up to end. */
export interface PeriodWindow {
  period: BudgetPeriod;
  id: string;
  start: Date;
  end: Date;
}

export function windowOf(period: BudgetPeriod, at: Date): PeriodWindow {
  if (period === 'daily') {
    const start = startOfUtcDay(at);
    return { period, id: utcDay(start), start, end: new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate() + 1)) };
  }
  const start = startOfUtcMonth(at);
  return { period, id: utcMonth(start), start, end: new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1)) };
}

/** `3 h 12 min`, `45 min`, `8 d 3 h`; rounded up to the minute, so it never says 0. */
export function formatDuration(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return mins > 0 ? `${hours} h ${mins} min` : `${hours} h`;
  return `${mins} min`;
}

/** `at 00:00 UTC (in 3 h 12 min)` for a day, `on 1 December at 00:00 UTC (in 8 d 3 h)` for a month. */
export function formatReset(window: PeriodWindow, now: Date): string {
  const when = window.period === 'daily' ? 'at 00:00 UTC' : `on 1 ${window.end.toLocaleString('en', { month: 'long', timeZone: 'UTC' })} at 00:00 UTC`;
  return `${when} (in ${formatDuration(window.end.getTime() - now.getTime())})`;
}

/** `today` / `this month`, as the end of "41,200 of 40,000 tokens today". */
export function periodPhrase(period: BudgetPeriod): string {
  return period === 'daily' ? 'today' : 'this month';
}
