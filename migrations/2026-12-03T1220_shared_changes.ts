import type { Kysely } from 'kysely';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// A version per kind of admin change (access settings, budgets, provider connections): the
// instance that saves one counts it up, the others see the number move and reload that part.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('shared_changes')
    .addColumn('topic', 'text', (c) => c.primaryKey())
    .addColumn('version', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('shared_changes').execute();
}
