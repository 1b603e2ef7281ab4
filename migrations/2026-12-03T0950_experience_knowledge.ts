import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// How an Experience uses its documents in answers: how much of the prompt the retrieved sources
// may take, and how many at most (JSON; the defaults apply to '{}').
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('experiences')
    .addColumn('knowledge', 'text', (c) => c.notNull().defaultTo(sql`'{}'`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('experiences').dropColumn('knowledge').execute();
}
