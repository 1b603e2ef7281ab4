import { sql } from 'kysely';
import type { OpenedPostgresDatabase, OpenedSqliteDatabase } from '../db/open.js';
import { ThreadloomError } from '../errors.js';
import { ROLLUP_TABLES, type MovedTable } from './tables.js';

const SAMPLE_PER_TABLE = 25;
const MEASURES = ['events', 'chat_turns', 'tokens_in', 'tokens_out', 'cost_usd'];

export interface MoveCheck {
  /** rows compared column by column */
  sampled: number;
  /** rollup tables whose row counts and sums PostgreSQL's triggers matched */
  rollups: number;
}

type Row = Record<string, unknown>;

/** One value as both databases should hold it: bytes as hex, booleans and numeric text as numbers. */
function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'bigint') return Number(value);
  return value;
}

function mismatch(what: string): ThreadloomError {
  return new ThreadloomError('database', `the move did not check out: ${what}; the SQLite file is unchanged, and Threadloom keeps using it until the URL is set`);
}

/** Counts of every moved table, the rollups' counts and sums, and a sample of rows, on both sides. */
export async function verifyMove(source: OpenedSqliteDatabase, target: OpenedPostgresDatabase, tables: MovedTable[]): Promise<MoveCheck> {
  let sampled = 0;
  for (const table of tables) {
    const before = (source.sqlite.prepare(`SELECT count(*) AS n FROM "${table.name}"`).get() as { n: number }).n;
    const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(table.name)}`.execute(target.db);
    if (Number(rows[0]!.n) !== before) throw mismatch(`${table.name} has ${before} rows in SQLite and ${rows[0]!.n} in PostgreSQL`);
    if (!table.columns.includes('id') || before === 0) continue;
    const step = Math.max(1, Math.floor(before / SAMPLE_PER_TABLE));
    const picked = source.sqlite.prepare(`SELECT * FROM (SELECT *, row_number() OVER (ORDER BY id) AS "__n" FROM "${table.name}") WHERE ("__n" - 1) % ? = 0 LIMIT ?`).all(step, SAMPLE_PER_TABLE) as Row[];
    const ids = picked.map((r) => r.id as number);
    const { rows: there } = await sql<Row>`SELECT * FROM ${sql.table(table.name)} WHERE id IN (${sql.join(ids)})`.execute(target.db);
    const byId = new Map(there.map((r) => [Number(r.id), r]));
    for (const row of picked) {
      const copy = byId.get(Number(row.id));
      for (const column of table.columns) {
        if (!copy || JSON.stringify(plain(copy[column])) !== JSON.stringify(plain(row[column]))) throw mismatch(`${table.name} row ${String(row.id)} differs in ${column}`);
      }
      sampled++;
    }
  }
  let rollups = 0;
  for (const table of ROLLUP_TABLES) {
    const exists = source.sqlite.prepare(`SELECT 1 FROM sqlite_master WHERE name = ?`).get(table);
    if (!exists) continue;
    const columns = (source.sqlite.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as Array<{ name: string }>).map((c) => c.name).filter((c) => MEASURES.includes(c));
    const sums = columns.map((c) => `sum("${c}") AS "${c}"`).join(', ');
    const here = source.sqlite.prepare(`SELECT count(*) AS n${sums ? `, ${sums}` : ''} FROM "${table}"`).get() as Row;
    const { rows } = await sql<Row>`SELECT count(*) AS n${sql.raw(sums ? `, ${sums}` : '')} FROM ${sql.table(table)}`.execute(target.db);
    for (const [key, value] of Object.entries(here)) {
      const other = Number(rows[0]![key] ?? 0);
      const mine = Number(value ?? 0);
      // money adds up in floating point in a different order: equal to a millionth of a cent
      if (Math.abs(other - mine) > 1e-8 * Math.max(1, Math.abs(mine))) throw mismatch(`${table}.${key} sums to ${mine} in SQLite and ${other} in PostgreSQL`);
    }
    rollups++;
  }
  return { sampled, rollups };
}
