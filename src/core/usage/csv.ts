import { sql } from 'kysely';
import type { Db } from '../db/open.js';
import { checkRange, type UsageFilter, type UsageRange } from './range.js';

/** The raw usage ledger as CSV, for the usage page's export. */

export const USAGE_CSV_COLUMNS = [
  'id', 'created_at', 'platform', 'user_id', 'experience_id', 'conversation_id', 'message_id', 'provider', 'model',
  'purpose', 'tokens_in', 'tokens_out', 'estimated', 'cost_usd', 'latency_ms', 'ttft_ms', 'status', 'error',
] as const;

/**
 * After the ledger's columns: `priced` is `no` for a row whose model no price is known for, so
 * its `cost_usd` is empty rather than a $0 a spreadsheet would add up as free.
 */
export const USAGE_CSV_HEADER = [...USAGE_CSV_COLUMNS, 'priced'] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. Text that a
 * spreadsheet would run as a formula (= + - @ at the start) gets a leading apostrophe.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const CSV_BATCH = 2000;

interface CsvCursor {
  createdAt: string;
  id: number;
}

/**
 * The raw usage rows in the range as CSV text: the header line, then one chunk per batch of
 * rows. Reads in keyset pages on (created_at, id), so memory stays flat on a million rows and the
 * database is free for the bots between pages.
 */
export async function* usageCsv(
  db: Db,
  range: UsageRange,
  filter: UsageFilter = {},
  isPriced: (modelId: string) => boolean = () => true,
  batchSize = CSV_BATCH,
): AsyncGenerator<string> {
  checkRange(range);
  yield `${USAGE_CSV_HEADER.join(',')}\r\n`;
  let cursor: CsvCursor | null = null;
  for (;;) {
    const rows = await csvPage(db, range, filter, cursor, batchSize);
    if (rows.length === 0) return;
    yield rows.map((row) => {
      const priced = isPriced(row.model);
      const fields = USAGE_CSV_COLUMNS.map((column) => (column === 'cost_usd' && !priced ? '' : csvField(row[column])));
      return [...fields, priced ? 'yes' : 'no'].join(',');
    }).join('\r\n') + '\r\n';
    if (rows.length < batchSize) return;
    const last = rows[rows.length - 1]!;
    cursor = { createdAt: last.created_at, id: last.id };
  }
}

function csvPage(db: Db, range: UsageRange, filter: UsageFilter, cursor: CsvCursor | null, limit: number) {
  return db
    .selectFrom('usage_events')
    .select([...USAGE_CSV_COLUMNS])
    .where('created_at', '>=', range.from)
    .where('created_at', '<', range.to)
    .$if(cursor !== null, (qb) => qb.where((eb) => eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(cursor!.createdAt, cursor!.id))))
    .$if(filter.platform !== undefined, (qb) => qb.where(sql<string>`coalesce(platform, '')`, '=', filter.platform!))
    .$if(filter.userId !== undefined, (qb) => qb.where(sql<string>`coalesce(user_id, '')`, '=', filter.userId!))
    .$if(filter.experienceId !== undefined, (qb) => qb.where(sql<number>`coalesce(experience_id, 0)`, '=', filter.experienceId!))
    .$if(filter.model !== undefined, (qb) => qb.where('model', '=', filter.model!))
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .execute();
}
