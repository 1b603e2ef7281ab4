import type { Kysely } from 'kysely';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Leases: what one Threadloom instance at a time may do (hold the Discord gateway, the Matrix
// client, run the backup schedule) when several share one database. Times are milliseconds since
// the epoch on the database's clock, so instances on different machines agree on expiry.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('since', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('leases').execute();
}
