import type { Kysely } from 'kysely';
import { floatType, nowDefault } from './support/dialect.js';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Budgets: limits set at run time by admins (config holds the rest), temporary extra allowances,
// and which 80% warnings were already given, so a restart does not warn twice in one period.
export async function up(db: Kysely<any>): Promise<void> {
  const now = nowDefault(db);

  // scope: global | platform | experience | role | user; target: '' | platform | slug | role | platform:userId
  // amount NULL: no limit at this level, whatever the config says
  await db.schema
    .createTable('budget_limits')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('period', 'text', (c) => c.notNull())
    .addColumn('unit', 'text', (c) => c.notNull())
    .addColumn('amount', floatType(db))
    .addColumn('updated_by', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull().defaultTo(now))
    .addPrimaryKeyConstraint('budget_limits_pk', ['scope', 'target', 'period', 'unit'])
    .execute();

  // one extra allowance per identity and unit; a new grant replaces the old one
  await db.schema
    .createTable('budget_grants')
    .addColumn('identity', 'text', (c) => c.notNull())
    .addColumn('unit', 'text', (c) => c.notNull())
    .addColumn('amount', floatType(db), (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('granted_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .addPrimaryKeyConstraint('budget_grants_pk', ['identity', 'unit'])
    .execute();

  // budget: '<scope key>|<daily|monthly>|<unit>'; period: '2026-11-22' or '2026-11' (UTC)
  await db.schema
    .createTable('budget_warnings')
    .addColumn('budget', 'text', (c) => c.notNull())
    .addColumn('period', 'text', (c) => c.notNull())
    .addColumn('warned_at', 'text', (c) => c.notNull().defaultTo(now))
    .addPrimaryKeyConstraint('budget_warnings_pk', ['budget', 'period'])
    .execute();

  // running totals of an Experience start from one range read of its rows this period
  await db.schema.createIndex('usage_events_experience_time').on('usage_events').columns(['experience_id', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('usage_events_experience_time').execute();
  for (const table of ['budget_warnings', 'budget_grants', 'budget_limits']) await db.schema.dropTable(table).execute();
}
