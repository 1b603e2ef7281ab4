import { sql, type Kysely } from 'kysely';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Which instance is writing an answer still streaming: when several share one PostgreSQL, an
// instance starting (or sweeping) marks interrupted only the answers of instances that are gone,
// not those another live instance is writing. A partial index keeps that sweep off the table.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('messages').addColumn('writer', 'text').execute();
  await db.schema.createIndex('messages_streaming').on('messages').column('id').where(sql<boolean>`status = 'streaming'`).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('messages_streaming').execute();
  await db.schema.alterTable('messages').dropColumn('writer').execute();
}
