import type { Kysely } from 'kysely';
import { floatType, idColumn } from './support/dialect.js';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// What answers being written may still spend, when several instances share one PostgreSQL: each
// instance's holds are seen by the others' budget checks, made under a lock per budget, so two
// instances cannot both take the last of a budget. One instance (SQLite) keeps them in memory.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('budget_holds')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('budget_key', 'text', (c) => c.notNull())
    .addColumn('tokens', 'bigint', (c) => c.notNull())
    .addColumn('usd', floatType(db), (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('budget_holds_key').on('budget_holds').column('budget_key').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('budget_holds').execute();
}
