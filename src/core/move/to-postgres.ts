import { sql } from 'kysely';
import { migrateToLatest, pendingMigrations } from '../db/migrate.js';
import type { OpenedPostgresDatabase, OpenedSqliteDatabase } from '../db/open.js';
import { ThreadloomError } from '../errors.js';
import { tablesToMove, type MovedTable } from './tables.js';
import { verifyMove, type MoveCheck } from './verify.js';

/** PostgreSQL takes at most 65,535 parameters in one statement. */
const MAX_PARAMETERS = 60_000;
const MAX_BATCH_ROWS = 1_000;

export interface MoveReport {
  tables: Array<{ table: string; rows: number }>;
  check: MoveCheck;
  ms: number;
}

type Row = Record<string, unknown>;

async function publicTables(target: OpenedPostgresDatabase): Promise<Set<string>> {
  const { rows } = await sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`.execute(target.db);
  return new Set(rows.map((r) => r.name));
}

/** Refuses a PostgreSQL database that already holds something: a move goes into an empty one. */
async function ensureEmpty(target: OpenedPostgresDatabase, tables: MovedTable[]): Promise<void> {
  for (const table of tables) {
    const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM (SELECT 1 FROM ${sql.table(table.name)} LIMIT 1) AS any_row`.execute(target.db);
    if (Number(rows[0]?.n) > 0) {
      throw new ThreadloomError('invalid', `the PostgreSQL database ${target.where} already holds data (table ${table.name} is not empty): move into an empty database`, {
        userMessage: `The PostgreSQL database already holds data (table ${table.name}). Create an empty database and move into that one; nothing was changed.`,
      });
    }
  }
}

/**
 * Copies a SQLite installation into an empty PostgreSQL database: every table but the ones
 * PostgreSQL rebuilds (rollups, index state), in batches, ids kept, in one transaction (a failure
 * leaves the target empty), then checks counts, the rollups' sums and a sample of rows.
 */
export async function moveToPostgres(
  source: OpenedSqliteDatabase,
  target: OpenedPostgresDatabase,
  progress: (line: string) => void = () => {},
): Promise<MoveReport> {
  const started = performance.now();
  const pending = await pendingMigrations(source.db);
  if (pending.length) {
    throw new ThreadloomError('migration', `the SQLite database needs migrations first (${pending.join(', ')}): run \`threadloom migrate\``);
  }
  const applied = await migrateToLatest(target.db);
  if (applied.applied.length) progress(`PostgreSQL schema created (${applied.applied.length} migrations)`);
  const tables = tablesToMove(source.sqlite, await publicTables(target));
  await ensureEmpty(target, tables);

  const moved: MoveReport['tables'] = [];
  await target.db.transaction().execute(async (trx) => {
    for (const table of tables) {
      const rows = await copyTable(source, table, (batch) => trx.insertInto(table.name as never).values(batch as never).execute());
      moved.push({ table: table.name, rows });
      progress(`${table.name}: ${rows} rows`);
    }
    for (const table of tables) {
      for (const column of table.deferred) {
        const pairs = source.sqlite.prepare(`SELECT id, "${column}" AS value FROM "${table.name}" WHERE "${column}" IS NOT NULL ORDER BY id`).all() as Array<{ id: number; value: number }>;
        for (let i = 0; i < pairs.length; i += MAX_BATCH_ROWS) {
          const values = sql.join(pairs.slice(i, i + MAX_BATCH_ROWS).map((p) => sql`(${p.id}::bigint, ${p.value}::bigint)`));
          await sql`UPDATE ${sql.table(table.name)} AS t SET ${sql.ref(column)} = v.value FROM (VALUES ${values}) AS v(id, value) WHERE t.id = v.id`.execute(trx);
        }
      }
      if (table.identity) {
        // ids were copied as they were: the next one numbered here continues after the largest
        await sql`SELECT setval(pg_get_serial_sequence(${table.name}, ${table.identity})::regclass, (SELECT max(${sql.ref(table.identity)}) FROM ${sql.table(table.name)}))
          WHERE pg_get_serial_sequence(${table.name}, ${table.identity}) IS NOT NULL AND EXISTS (SELECT 1 FROM ${sql.table(table.name)})`.execute(trx);
      }
    }
  });
  progress('checking: counts, usage sums, a sample of rows');
  const check = await verifyMove(source, target, tables);
  return { tables: moved, check, ms: Math.round(performance.now() - started) };
}

/** Reads one table in key order, a batch at a time, writing each batch before the next is read. */
async function copyTable(source: OpenedSqliteDatabase, table: MovedTable, write: (rows: Row[]) => Promise<unknown>): Promise<number> {
  const batchRows = Math.max(1, Math.min(MAX_BATCH_ROWS, Math.floor(MAX_PARAMETERS / table.columns.length)));
  const columns = table.columns.map((c) => `"${c}"`).join(', ');
  const withoutDeferred = (row: Row): Row => {
    for (const column of table.deferred) row[column] = null;
    return row;
  };
  if (!table.hasRowid) {
    const rows = source.sqlite.prepare(`SELECT ${columns} FROM "${table.name}"`).all() as Row[];
    for (let i = 0; i < rows.length; i += batchRows) await write(rows.slice(i, i + batchRows));
    return rows.length;
  }
  const read = source.sqlite.prepare(`SELECT rowid AS "__rowid", ${columns} FROM "${table.name}" WHERE rowid > ? ORDER BY rowid LIMIT ?`);
  let after = -Infinity;
  let count = 0;
  for (;;) {
    const rows = read.all(after === -Infinity ? Number.MIN_SAFE_INTEGER : after, batchRows) as Row[];
    if (rows.length === 0) return count;
    after = Number(rows.at(-1)!.__rowid);
    await write(rows.map(({ __rowid, ...row }) => withoutDeferred(row)));
    count += rows.length;
  }
}
