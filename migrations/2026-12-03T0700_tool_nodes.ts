import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
//
// Tools in the message tree. An assistant node may carry the calls it asked for (`tool_calls`,
// JSON [{id, name, arguments}]); each result is a node of role 'tool' under it, naming the call
// (`tool_call_id`) and the tool; `tool_meta` keeps how it ran (source, duration, status, who
// approved it). The branch path then holds call and result together, so regenerate, branch,
// export and search keep working. Each Experience gets its tool policy (JSON; none on by default).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('messages').addColumn('tool_calls', 'text').execute();
  await db.schema.alterTable('messages').addColumn('tool_call_id', 'text').execute();
  await db.schema.alterTable('messages').addColumn('tool_name', 'text').execute();
  await db.schema.alterTable('messages').addColumn('tool_meta', 'text').execute();
  await db.schema
    .alterTable('experiences')
    .addColumn('tools', 'text', (c) => c.notNull().defaultTo(sql`'{}'`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('experiences').dropColumn('tools').execute();
  for (const column of ['tool_meta', 'tool_name', 'tool_call_id', 'tool_calls']) {
    await db.schema.alterTable('messages').dropColumn(column).execute();
  }
}
