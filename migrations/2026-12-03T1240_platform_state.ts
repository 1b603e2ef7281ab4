import type { Kysely } from 'kysely';
import { bytesType, nowDefault } from './support/dialect.js';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// What a platform connected by one instance at a time keeps between holders when several share
// one PostgreSQL: Matrix's session and its encrypted crypto store, which the next holder of the
// platform's lease takes over instead of starting as a new device.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('platform_state')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('content', bytesType(db), (c) => c.notNull())
    .addColumn('written_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull().defaultTo(nowDefault(db)))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('platform_state').execute();
}
