import { sql, type CreateTableBuilder, type Kysely } from 'kysely';
import { flag, floatType, isPostgres } from './support/dialect.js';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Rollups of usage_events that the usage page reads instead of the raw rows, kept exact by
// triggers and backfilled here. A long range reads whole months from a monthly table and only its
// ragged ends from a daily one.
//   usage_day_model                        by day and model: the chart
//   usage_daily / usage_monthly            by model, Experience and platform
//   usage_user_daily / usage_user_monthly  by user: the top users
//   usage_user_detail / _detail_monthly    by user, model and Experience, indexed by user:
//                                          one user's page, and the users of one Experience or model
// NULL platform, user and Experience are stored as '' and 0 so they can be part of a key.
// On PostgreSQL the triggers' bodies are one PL/pgSQL function; the statements are the same.

interface Rollup {
  table: string;
  /** key columns and the expression over a usage_events row (NEW / OLD) that fills each */
  keys: Array<[column: string, expression: (row: string) => string]>;
  /** a second index, leading with these columns */
  index?: string[];
}

const day: Rollup['keys'][number] = ['day', (row) => `substr(${row}.created_at, 1, 10)`];
const month: Rollup['keys'][number] = ['month', (row) => `substr(${row}.created_at, 1, 7)`];
const model: Rollup['keys'][number] = ['model', (row) => `${row}.model`];
const experience: Rollup['keys'][number] = ['experience_id', (row) => `coalesce(${row}.experience_id, 0)`];
const platform: Rollup['keys'][number] = ['platform', (row) => `coalesce(${row}.platform, '')`];
const user: Rollup['keys'][number] = ['user_id', (row) => `coalesce(${row}.user_id, '')`];

const ROLLUPS: Rollup[] = [
  { table: 'usage_day_model', keys: [day, model] },
  { table: 'usage_daily', keys: [day, model, experience, platform] },
  { table: 'usage_monthly', keys: [month, model, experience, platform] },
  { table: 'usage_user_daily', keys: [day, platform, user] },
  { table: 'usage_user_monthly', keys: [month, platform, user] },
  { table: 'usage_user_detail', keys: [day, platform, user, model, experience], index: ['platform', 'user_id', 'day'] },
  { table: 'usage_user_detail_monthly', keys: [month, platform, user, model, experience], index: ['platform', 'user_id', 'month'] },
];

type Measures = Array<[column: string, expression: (row: string) => string]>;

/** The measures every rollup keeps, and the expression over a usage_events row for one event. */
function measures(db: Kysely<any>): Measures {
  return [
    ['events', () => '1'],
    ['chat_turns', (row) => flag(db, `${row}.purpose = 'chat'`)],
    ['tokens_in', (row) => `${row}.tokens_in`],
    ['tokens_out', (row) => `${row}.tokens_out`],
    ['cost_usd', (row) => `${row}.cost_usd`],
  ];
}

/** An upsert adding (sign +) or taking away (sign -) one usage_events row. */
function upsert(db: Kysely<any>, rollup: Rollup, MEASURES: Measures, row: 'NEW' | 'OLD', sign: '+' | '-'): string {
  // PostgreSQL finds a bare column ambiguous between the table and `excluded`
  const current = isPostgres(db) ? `${rollup.table}.` : '';
  const keys = rollup.keys.map(([column]) => column);
  const columns = [...keys, ...MEASURES.map(([column]) => column)];
  const values = [...rollup.keys.map(([, expr]) => expr(row)), ...MEASURES.map(([, expr]) => `${sign === '-' ? '-' : ''}${expr(row)}`)];
  const updates = MEASURES.map(([column]) => `${column} = ${current}${column} + excluded.${column}`);
  const upserted = `INSERT INTO ${rollup.table} (${columns.join(', ')}) VALUES (${values.join(', ')})
    ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${updates.join(', ')};`;
  if (sign === '+') return upserted;
  // a group whose last event went is no group: the page would show an empty row for it
  const same = rollup.keys.map(([column, expr]) => `${column} = ${expr(row)}`).join(' AND ');
  return `${upserted}
  DELETE FROM ${rollup.table} WHERE ${same} AND events = 0;`;
}

const TRIGGERS = ['usage_events_rollup_insert', 'usage_events_rollup_delete', 'usage_events_rollup_update'];
const UPDATED_COLUMNS = 'created_at, model, experience_id, platform, user_id, purpose, tokens_in, tokens_out, cost_usd';

export async function up(db: Kysely<any>): Promise<void> {
  const MEASURES = measures(db);
  for (const rollup of ROLLUPS) {
    let table: CreateTableBuilder<string, string> = db.schema.createTable(rollup.table);
    for (const [column] of rollup.keys) {
      table = table.addColumn(column, column === 'experience_id' ? 'integer' : 'text', (c) => c.notNull());
    }
    for (const [column] of MEASURES) {
      table = table.addColumn(column, column === 'cost_usd' ? floatType(db) : 'integer', (c) => c.notNull().defaultTo(0));
    }
    table = table.addPrimaryKeyConstraint(`${rollup.table}_pk`, rollup.keys.map(([column]) => column) as [string, ...string[]]);
    await (isPostgres(db) ? table : table.modifyEnd(sql`WITHOUT ROWID`)).execute();
    if (rollup.index) await db.schema.createIndex(`${rollup.table}_by_user`).on(rollup.table).columns(rollup.index).execute();

    const keys = rollup.keys.map(([column, expr]) => `${expr('usage_events')} AS ${column}`);
    const sums = MEASURES.map(([column, expr]) => (column === 'events' ? `count(*) AS events` : `sum(${expr('usage_events')}) AS ${column}`));
    await sql
      .raw(
        `INSERT INTO ${rollup.table} (${[...rollup.keys, ...MEASURES].map(([c]) => c).join(', ')})
         SELECT ${[...keys, ...sums].join(', ')} FROM usage_events GROUP BY ${rollup.keys.map((_, i) => i + 1).join(', ')}`,
      )
      .execute(db);
  }

  const each = (row: 'NEW' | 'OLD', sign: '+' | '-'): string => ROLLUPS.map((r) => upsert(db, r, MEASURES, row, sign)).join('\n  ');
  if (isPostgres(db)) {
    await sql
      .raw(
        `CREATE FUNCTION usage_events_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
  ${each('OLD', '-')}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
  ${each('NEW', '+')}
  END IF;
  RETURN NULL;
END
$$`,
      )
      .execute(db);
    const events = ['INSERT', 'DELETE', `UPDATE OF ${UPDATED_COLUMNS}`];
    for (const [i, trigger] of TRIGGERS.entries()) {
      await sql.raw(`CREATE TRIGGER ${trigger} AFTER ${events[i]} ON usage_events FOR EACH ROW EXECUTE FUNCTION usage_events_rollup()`).execute(db);
    }
    return;
  }
  await sql.raw(`CREATE TRIGGER usage_events_rollup_insert AFTER INSERT ON usage_events BEGIN\n  ${each('NEW', '+')}\nEND`).execute(db);
  // the ledger is append-only, but a pruned or corrected row must not leave the rollups wrong
  await sql.raw(`CREATE TRIGGER usage_events_rollup_delete AFTER DELETE ON usage_events BEGIN\n  ${each('OLD', '-')}\nEND`).execute(db);
  await sql
    .raw(
      `CREATE TRIGGER usage_events_rollup_update AFTER UPDATE OF ${UPDATED_COLUMNS} ON usage_events BEGIN\n  ${each('OLD', '-')}\n  ${each('NEW', '+')}\nEND`,
    )
    .execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const trigger of TRIGGERS) {
    await sql.raw(`DROP TRIGGER IF EXISTS ${trigger}${isPostgres(db) ? ' ON usage_events' : ''}`).execute(db);
  }
  if (isPostgres(db)) await sql`DROP FUNCTION IF EXISTS usage_events_rollup()`.execute(db);
  for (const rollup of ROLLUPS) await db.schema.dropTable(rollup.table).execute();
}
