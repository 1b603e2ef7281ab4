import type { Kysely } from 'kysely';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// The turns each user took in the last minute, when several instances share one PostgreSQL
// (on SQLite one process keeps them in memory and this table stays empty).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('turn_rate_events')
    .addColumn('user_key', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('turn_rate_events_user_at').on('turn_rate_events').columns(['user_key', 'at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('turn_rate_events').execute();
}
