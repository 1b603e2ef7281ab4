import { sql, type Kysely } from 'kysely';
import { floatType, idColumn, isPostgres, nowDefault } from './support/dialect.js';

// Frozen in time: imports nothing from src/, so later code changes never alter what this did.
export async function up(db: Kysely<any>): Promise<void> {
  const now = nowDefault(db);

  await db.schema
    .createTable('experiences')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('category', 'text', (c) => c.notNull().defaultTo('general'))
    .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('folder', 'text')
    .addColumn('persona_name', 'text', (c) => c.notNull())
    .addColumn('system_prompt', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('model', 'text')
    .addColumn('fallback_models', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('params', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('context_policy', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('rules', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('starter_prompts', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('archived_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'text', (c) => c.notNull().defaultTo(now))
    .execute();
  await db.schema.createIndex('experiences_category').on('experiences').column('category').execute();

  await db.schema
    .createTable('bindings')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('channel_id', 'text', (c) => c.notNull())
    .addColumn('experience_id', 'integer', (c) => c.notNull().references('experiences.id').onDelete('cascade'))
    .addColumn('model_override', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .addUniqueConstraint('bindings_platform_channel', ['platform', 'channel_id'])
    .execute();

  await db.schema
    .createTable('conversations')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('channel_id', 'text', (c) => c.notNull())
    // '' when the platform message is not in a thread, so the unique index can see it
    .addColumn('thread_id', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('experience_id', 'integer', (c) => c.notNull().references('experiences.id'))
    .addColumn('title', 'text')
    // PostgreSQL refuses a reference to a table not made yet: there it is added after messages
    .addColumn('active_leaf_id', 'integer', (c) => (isPostgres(db) ? c : c.references('messages.id').onDelete('set null')))
    .addColumn('model_override', 'text')
    .addColumn('persona_override', 'text')
    .addColumn('notices', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .addColumn('updated_at', 'text', (c) => c.notNull().defaultTo(now))
    .addColumn('archived_at', 'text')
    .execute();
  // one running conversation per place; archived ones (after `new`) stay for history
  await sql`CREATE UNIQUE INDEX conversations_place ON conversations(platform, channel_id, thread_id) WHERE archived_at IS NULL`.execute(db);
  await db.schema.createIndex('conversations_experience').on('conversations').column('experience_id').execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('conversation_id', 'integer', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('parent_id', 'integer', (c) => c.references('messages.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('author_id', 'text')
    .addColumn('author_name', 'text')
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('model', 'text')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('complete'))
    .addColumn('error', 'text')
    .addColumn('token_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('token_count_exact', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tokens_in', 'integer')
    .addColumn('tokens_out', 'integer')
    .addColumn('cost_usd', floatType(db))
    .addColumn('latency_ms', 'integer')
    .addColumn('ttft_ms', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .execute();
  await db.schema.createIndex('messages_parent').on('messages').columns(['parent_id']).execute();
  await db.schema.createIndex('messages_conversation').on('messages').columns(['conversation_id', 'parent_id']).execute();
  if (isPostgres(db)) {
    await db.schema
      .alterTable('conversations')
      .addForeignKeyConstraint('conversations_active_leaf', ['active_leaf_id'], 'messages', ['id'], (c) => c.onDelete('set null'))
      .execute();
  }

  await db.schema
    .createTable('summaries')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('conversation_id', 'integer', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    // the checkpoint covers the path from the root down to and including this message
    .addColumn('message_id', 'integer', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('token_count', 'integer', (c) => c.notNull())
    .addColumn('model', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .execute();
  await db.schema.createIndex('summaries_message').on('summaries').column('message_id').execute();

  await db.schema
    .createTable('attachments')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('message_id', 'integer', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('mime_type', 'text', (c) => c.notNull())
    .addColumn('data', 'text')
    .addColumn('url', 'text')
    .addColumn('size', 'integer')
    .execute();
  await db.schema.createIndex('attachments_message').on('attachments').column('message_id').execute();

  await db.schema
    .createTable('platform_messages')
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('platform_message_id', 'text', (c) => c.notNull())
    .addColumn('message_id', 'integer', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('conversation_id', 'integer', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('part', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('platform_messages_pk', ['platform', 'platform_message_id'])
    .execute();
  await db.schema.createIndex('platform_messages_node').on('platform_messages').column('message_id').execute();

  await db.schema
    .createTable('processed_events')
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('processed_at', 'text', (c) => c.notNull().defaultTo(now))
    .addPrimaryKeyConstraint('processed_events_pk', ['platform', 'event_id'])
    .execute();
  await db.schema.createIndex('processed_events_at').on('processed_events').column('processed_at').execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('platform_user_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('role', 'text', (c) => c.notNull().defaultTo('user'))
    .addColumn('quota', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .addUniqueConstraint('users_platform_id', ['platform', 'platform_user_id'])
    .execute();

  // append-only; no foreign keys so it survives deletion of conversations and Experiences
  await db.schema
    .createTable('usage_events')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .addColumn('platform', 'text')
    .addColumn('user_id', 'text')
    .addColumn('experience_id', 'integer')
    .addColumn('conversation_id', 'integer')
    .addColumn('message_id', 'integer')
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('tokens_in', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tokens_out', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('estimated', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cost_usd', floatType(db), (c) => c.notNull().defaultTo(0))
    .addColumn('latency_ms', 'integer')
    .addColumn('ttft_ms', 'integer')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('usage_events_time').on('usage_events').columns(['created_at']).execute();
  await db.schema.createIndex('usage_events_user_time').on('usage_events').columns(['platform', 'user_id', 'created_at']).execute();

  await db.schema
    .createTable('models')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('context_length', 'integer')
    .addColumn('vision', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tools', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('input_price', floatType(db))
    .addColumn('output_price', floatType(db))
    .addColumn('updated_at', 'text', (c) => c.notNull().defaultTo(now))
    .execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull().defaultTo(now))
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('created_at', 'text', (c) => c.notNull().defaultTo(now))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('detail', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'audit_log', 'settings', 'models', 'usage_events', 'users', 'processed_events', 'platform_messages',
    'attachments', 'summaries', 'messages', 'conversations', 'bindings', 'experiences',
  ]) {
    // on PostgreSQL conversations and messages reference each other
    await (isPostgres(db) ? db.schema.dropTable(table).cascade() : db.schema.dropTable(table)).execute();
  }
}
