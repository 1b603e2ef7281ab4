import type { ToolOutput } from '../types.js';

export interface CurrentTimeInput {
  /** IANA zone, e.g. `Europe/Berlin`; UTC when absent */
  timeZone?: string;
}

function zoneFormatter(timeZone: string): Intl.DateTimeFormat | null {
  try {
    return new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'long',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
  } catch {
    return null;
  }
}

/** The time now, in UTC and in the asked zone, with the weekday: models do not know the date. */
export function currentTime(input: CurrentTimeInput, now: () => Date): ToolOutput {
  const timeZone = input.timeZone?.trim() || 'UTC';
  const format = zoneFormatter(timeZone);
  if (!format) return { text: `unknown time zone: ${timeZone} (use an IANA name such as Europe/Berlin)`, isError: true };
  const at = now();
  const part = Object.fromEntries(format.formatToParts(at).map((p) => [p.type, p.value]));
  const offset = part.timeZoneName === 'GMT' ? '+00:00' : String(part.timeZoneName).replace(/^GMT/, '');
  const local = `${part.year}-${part.month}-${part.day}T${part.hour}:${part.minute}:${part.second}${offset}`;
  return {
    text: [`UTC: ${at.toISOString()}`, `Local time in ${timeZone}: ${local}`, `Weekday there: ${part.weekday}`].join('\n'),
    isError: false,
  };
}
