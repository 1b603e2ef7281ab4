import type { Kysely } from 'kysely';
import { idColumn, nowDefault } from './support/dialect.js';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Bearer tokens for the OpenAI-compatible API, created in the admin web. Only a hash is kept:
// the token is shown once, when it is made.
export async function up(db: Kysely<any>): Promise<void> {
  const now = nowDefault(db);
  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .addColumn('last_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('api_tokens').execute();
}
