import type { Kysely } from 'kysely';
import { idColumn, nowDefault } from './support/dialect.js';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Provider connections added in the admin web (OpenAI-compatible, Anthropic, Ollama), next to the
// ones from env and the config file. The API key is stored only sealed (AES-256-GCM, text
// `v1:<iv>:<tag>:<data>`) with a key that is not in the database.
export async function up(db: Kysely<any>): Promise<void> {
  const now = nowDefault(db);
  await db.schema
    .createTable('provider_connections')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('base_url', 'text', (c) => c.notNull())
    .addColumn('api_key_sealed', 'text')
    .addColumn('max_concurrent', 'integer', (c) => c.notNull().defaultTo(4))
    .addColumn('requests_per_minute', 'integer')
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'text', (c) => c.notNull().defaultTo(now))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('provider_connections').execute();
}
