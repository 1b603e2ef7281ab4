import type { Kysely } from 'kysely';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// The documents an answer cites (JSON [{n, documentId, title, fileName, pageStart, pageEnd,
// headings}]), so the admin's conversation page and the exports can link each [n] to the
// document at its page.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('messages').addColumn('sources', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('messages').dropColumn('sources').execute();
}
