import { addUtcDays, parseUtcDay, utcDay, utcDaysBetween } from '../format/utc.js';
import { ThreadloomError } from '../errors.js';

/** The usage page's ranges and filters: a range is whole UTC days, [from, to). */

export interface UsageRange {
  /** first day, YYYY-MM-DD (UTC) */
  from: string;
  /** the day after the last, YYYY-MM-DD (UTC) */
  to: string;
}

/** Absent fields do not filter. '' is "no platform" / "no user"; experienceId 0 is "no Experience". */
export interface UsageFilter {
  platform?: string;
  experienceId?: number;
  model?: string;
  userId?: string;
}

export const MAX_RANGE_DAYS = 3700;

/** The last `days` days up to and including today (UTC). */
export function lastDays(now: Date, days: number): UsageRange {
  const to = addUtcDays(utcDay(now), 1);
  return { from: addUtcDays(to, -days), to };
}

/** Checks a range from user input; throws ThreadloomError('invalid') naming the problem. */
export function checkRange(range: UsageRange): UsageRange {
  for (const [name, day] of Object.entries(range)) {
    if (!parseUtcDay(day)) throw new ThreadloomError('invalid', `${name}: "${day}" is not a date (YYYY-MM-DD)`);
  }
  const days = utcDaysBetween(range.from, range.to);
  if (days < 1) throw new ThreadloomError('invalid', 'the range must end after it starts');
  if (days > MAX_RANGE_DAYS) throw new ThreadloomError('invalid', `the range is at most ${MAX_RANGE_DAYS} days`);
  return range;
}

export function daysOf(range: UsageRange): string[] {
  const days: string[] = [];
  for (let day = range.from; day < range.to; day = addUtcDays(day, 1)) days.push(day);
  return days;
}

// ---- sources: the rollup tables and the raw ledger, behind one shape ----
