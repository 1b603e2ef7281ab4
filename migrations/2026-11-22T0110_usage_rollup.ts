import { sql, type CreateTableBuilder, type Kysely } from 'kysely';

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

/** The measures every rollup keeps, and the expression over a usage_events row for one event. */
const MEASURES: Array<[column: string, expression: (row: string) => string]> = [
  ['events', () => '1'],
  ['chat_turns', (row) => `(${row}.purpose = 'chat')`],
  ['tokens_in', (row) => `${row}.tokens_in`],
  ['tokens_out', (row) => `${row}.tokens_out`],
  ['cost_usd', (row) => `${row}.cost_usd`],
];

/** An upsert adding (sign +) or taking away (sign -) one usage_events row. */
function upsert(rollup: Rollup, row: 'NEW' | 'OLD', sign: '+' | '-'): string {
  const keys = rollup.keys.map(([column]) => column);
  const columns = [...keys, ...MEASURES.map(([column]) => column)];
  const values = [...rollup.keys.map(([, expr]) => expr(row)), ...MEASURES.map(([, expr]) => `${sign === '-' ? '-' : ''}${expr(row)}`)];
  const updates = MEASURES.map(([column]) => `${column} = ${column} + excluded.${column}`);
  const upserted = `INSERT INTO ${rollup.table} (${columns.join(', ')}) VALUES (${values.join(', ')})
    ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${updates.join(', ')};`;
  if (sign === '+') return upserted;
  // a group whose last event went is no group: the page would show an empty row for it
  const same = rollup.keys.map(([column, expr]) => `${column} = ${expr(row)}`).join(' AND ');
  return `${upserted}
  DELETE FROM ${rollup.table} WHERE ${same} AND events = 0;`;
}

export async function up(db: Kysely<any>): Promise<void> {
  for (const rollup of ROLLUPS) {
    let table: CreateTableBuilder<string, string> = db.schema.createTable(rollup.table);
    for (const [column] of rollup.keys) {
      table = table.addColumn(column, column === 'experience_id' ? 'integer' : 'text', (c) => c.notNull());
    }
    for (const [column] of MEASURES) {
      table = table.addColumn(column, column === 'cost_usd' ? 'real' : 'integer', (c) => c.notNull().defaultTo(0));
    }
    await table
      .addPrimaryKeyConstraint(`${rollup.table}_pk`, rollup.keys.map(([column]) => column) as [string, ...string[]])
      .modifyEnd(sql`WITHOUT ROWID`)
      .execute();
    if (rollup.index) await db.schema.createIndex(`${rollup.table}_by_user`).on(rollup.table).columns(rollup.index).execute();

    const keys = rollup.keys.map(([column, expr]) => `${expr('usage_events')} AS ${column}`);
    const measures = MEASURES.map(([column, expr]) => (column === 'events' ? `count(*) AS events` : `sum(${expr('usage_events')}) AS ${column}`));
    await sql
      .raw(
        `INSERT INTO ${rollup.table} (${[...rollup.keys, ...MEASURES].map(([c]) => c).join(', ')})
         SELECT ${[...keys, ...measures].join(', ')} FROM usage_events GROUP BY ${rollup.keys.map((_, i) => i + 1).join(', ')}`,
      )
      .execute(db);
  }

  const each = (row: 'NEW' | 'OLD', sign: '+' | '-'): string => ROLLUPS.map((r) => upsert(r, row, sign)).join('\n  ');
  await sql.raw(`CREATE TRIGGER usage_events_rollup_insert AFTER INSERT ON usage_events BEGIN\n  ${each('NEW', '+')}\nEND`).execute(db);
  // the ledger is append-only, but a pruned or corrected row must not leave the rollups wrong
  await sql.raw(`CREATE TRIGGER usage_events_rollup_delete AFTER DELETE ON usage_events BEGIN\n  ${each('OLD', '-')}\nEND`).execute(db);
  await sql
    .raw(
      `CREATE TRIGGER usage_events_rollup_update AFTER UPDATE OF created_at, model, experience_id, platform, user_id, purpose, tokens_in, tokens_out, cost_usd ON usage_events BEGIN\n  ${each('OLD', '-')}\n  ${each('NEW', '+')}\nEND`,
    )
    .execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const trigger of ['usage_events_rollup_insert', 'usage_events_rollup_delete', 'usage_events_rollup_update']) {
    await sql.raw(`DROP TRIGGER IF EXISTS ${trigger}`).execute(db);
  }
  for (const rollup of ROLLUPS) await db.schema.dropTable(rollup.table).execute();
}
