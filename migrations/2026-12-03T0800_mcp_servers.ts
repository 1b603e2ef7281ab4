import { sql, type Kysely } from 'kysely';
import { idColumn, nowDefault } from './support/dialect.js';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// MCP servers added in the admin web, next to the ones in the config file (`mcp.servers`). The
// server's settings are plain JSON without its secrets; the literal env values (stdio) and header
// values (HTTP) are stored only sealed (AES-256-GCM, `v1:<iv>:<tag>:<data>`), with a key that is
// not in the database. Their names are kept apart so the form can say which are saved.
export async function up(db: Kysely<any>): Promise<void> {
  const now = nowDefault(db);
  await db.schema
    .createTable('mcp_servers')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('secret_names', 'text', (c) => c.notNull().defaultTo(sql`'{"env":[],"headers":[]}'`))
    .addColumn('secrets_sealed', 'text')
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'text', (c) => c.notNull().defaultTo(now))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('mcp_servers').execute();
}
