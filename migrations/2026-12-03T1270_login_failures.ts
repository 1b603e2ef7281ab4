import type { Kysely } from 'kysely';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Wrong admin passwords per address, when several instances share one PostgreSQL behind a load
// balancer: each instance's lockout counts the failures made on the others too. A row that
// locked the address carries until when. One instance (SQLite) counts in memory.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('login_failures')
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('locked_until', 'bigint')
    .execute();
  await db.schema.createIndex('login_failures_address').on('login_failures').columns(['address', 'at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('login_failures').execute();
}
