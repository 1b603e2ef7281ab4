import type { Kysely } from 'kysely';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Admin web sessions, so a restart or an upgrade does not sign the admin out. The cookie's value
// is never stored: only its SHA-256, so a copy of the database (a backup) opens no session.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('admin_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('csrf', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('flash', 'text')
    .execute();
  await db.schema.createIndex('admin_sessions_last_seen').on('admin_sessions').column('last_seen_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('admin_sessions').execute();
}
