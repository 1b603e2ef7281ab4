import type { Kysely } from 'kysely';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Which instance claimed an event and has not finished handling it yet (several instances on
// PostgreSQL; null once handled, and always on SQLite). When an instance dies mid-answer, the one
// that takes its platform over gives those claims back, and its catch-up answers them again.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('processed_events').addColumn('claimed_by', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('processed_events').dropColumn('claimed_by').execute();
}
