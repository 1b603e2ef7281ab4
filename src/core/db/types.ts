import type { Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { BindingTable } from '../bindings/table.js';

/** Timestamps are ISO-8601 UTC text; JSON columns hold JSON text and are parsed by services. */
type Timestamp = Generated<string>;

export interface ExperienceTable {
  id: Generated<number>;
  slug: string;
  name: string;
  description: string;
  category: string;
  tags: string; // JSON string[]
  folder: string | null;
  persona_name: string;
  system_prompt: string;
  model: string | null;
  fallback_models: string; // JSON string[]
  params: string; // JSON GenerationSettings
  context_policy: string; // JSON ContextPolicy
  rules: string; // JSON ResponseRules
  starter_prompts: string; // JSON string[]
  archived_at: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}


export interface ConversationTable {
  id: Generated<number>;
  platform: string;
  channel_id: string;
  thread_id: Generated<string>;
  experience_id: number;
  title: string | null;
  active_leaf_id: number | null;
  model_override: string | null;
  persona_override: string | null;
  notices: Generated<string>; // JSON Record<string, boolean>
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  archived_at: string | null;
}

export type MessageRole = 'user' | 'assistant';
export type MessageStatus = 'complete' | 'streaming' | 'partial' | 'error';

export interface MessageTable {
  id: Generated<number>;
  conversation_id: number;
  parent_id: number | null;
  role: MessageRole;
  author_id: string | null;
  author_name: string | null;
  content: string;
  model: string | null;
  status: Generated<MessageStatus>;
  error: string | null;
  /** tokens this message costs in a prompt: exact when the provider said so, else estimated */
  token_count: Generated<number>;
  token_count_exact: Generated<number>;
  tokens_in: number | null;
  tokens_out: number | null;
  cost_usd: number | null;
  latency_ms: number | null;
  ttft_ms: number | null;
  created_at: Timestamp;
}

export interface SummaryTable {
  id: Generated<number>;
  conversation_id: number;
  message_id: number;
  content: string;
  token_count: number;
  model: string | null;
  created_at: Timestamp;
}

export interface AttachmentTable {
  id: Generated<number>;
  message_id: number;
  name: string;
  mime_type: string;
  data: string | null;
  url: string | null;
  size: number | null;
}

export interface PlatformMessageTable {
  platform: string;
  platform_message_id: string;
  message_id: number;
  conversation_id: number;
  part: Generated<number>;
}

export interface ProcessedEventTable {
  platform: string;
  event_id: string;
  processed_at: Timestamp;
}

export interface UserTable {
  id: Generated<number>;
  platform: string;
  platform_user_id: string;
  name: string | null;
  role: Generated<'user' | 'admin'>;
  quota: string | null;
  created_at: Timestamp;
}

export type UsagePurpose = 'chat' | 'summary' | 'title' | 'embedding';
export type UsageStatus = 'ok' | 'fallback' | 'partial' | 'error';

export interface UsageEventTable {
  id: Generated<number>;
  created_at: Timestamp;
  platform: string | null;
  user_id: string | null;
  experience_id: number | null;
  conversation_id: number | null;
  message_id: number | null;
  provider: string;
  model: string;
  purpose: UsagePurpose;
  tokens_in: number;
  tokens_out: number;
  estimated: number;
  cost_usd: number;
  latency_ms: number | null;
  ttft_ms: number | null;
  status: UsageStatus;
  error: string | null;
}

export interface ModelTable {
  id: string;
  provider: string;
  name: string;
  context_length: number | null;
  vision: number;
  tools: number;
  input_price: number | null;
  output_price: number | null;
  updated_at: Timestamp;
}

export interface SettingTable {
  key: string;
  value: string;
  updated_at: Timestamp;
}

export interface AuditLogTable {
  id: Generated<number>;
  created_at: Timestamp;
  actor: string;
  action: string;
  target: string | null;
  detail: string | null;
}

export interface Database {
  experiences: ExperienceTable;
  bindings: BindingTable;
  conversations: ConversationTable;
  messages: MessageTable;
  summaries: SummaryTable;
  attachments: AttachmentTable;
  platform_messages: PlatformMessageTable;
  processed_events: ProcessedEventTable;
  users: UserTable;
  usage_events: UsageEventTable;
  models: ModelTable;
  settings: SettingTable;
  audit_log: AuditLogTable;
}

export type ExperienceRow = Selectable<ExperienceTable>;
export type NewExperienceRow = Insertable<ExperienceTable>;
export type ExperienceRowUpdate = Updateable<ExperienceTable>;
export type ConversationRow = Selectable<ConversationTable>;
export type NewConversationRow = Insertable<ConversationTable>;
export type MessageRow = Selectable<MessageTable>;
export type NewMessageRow = Insertable<MessageTable>;
export type SummaryRow = Selectable<SummaryTable>;
export type AttachmentRow = Selectable<AttachmentTable>;
export type UsageEventRow = Selectable<UsageEventTable>;
export type NewUsageEvent = Insertable<UsageEventTable>;

/**
 * Rollups of usage_events kept by triggers (migration 2026-11-22T0110): sums per day or month.
 * NULL platform, user and Experience are stored as '' and 0 (they are part of the key).
 */
interface UsageMeasures {
  events: number;
  /** events whose purpose is 'chat' */
  chat_turns: number;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
}

export interface UsageDayModelTable extends UsageMeasures {
  /** YYYY-MM-DD (UTC) */
  day: string;
  model: string;
}

export interface UsageDailyTable extends UsageMeasures {
  day: string;
  model: string;
  experience_id: number;
  platform: string;
}

export interface UsageMonthlyTable extends UsageMeasures {
  /** YYYY-MM (UTC) */
  month: string;
  model: string;
  experience_id: number;
  platform: string;
}

export interface UsageUserDailyTable extends UsageMeasures {
  day: string;
  platform: string;
  user_id: string;
}

export interface UsageUserMonthlyTable extends UsageMeasures {
  month: string;
  platform: string;
  user_id: string;
}

export interface UsageUserDetailTable extends UsageMeasures {
  day: string;
  platform: string;
  user_id: string;
  model: string;
  experience_id: number;
}

export interface UsageUserDetailMonthlyTable extends UsageMeasures {
  month: string;
  platform: string;
  user_id: string;
  model: string;
  experience_id: number;
}

// declaration merging: the rollup tables join Database without editing the list above
export interface Database {
  usage_day_model: UsageDayModelTable;
  usage_daily: UsageDailyTable;
  usage_monthly: UsageMonthlyTable;
  usage_user_daily: UsageUserDailyTable;
  usage_user_monthly: UsageUserMonthlyTable;
  usage_user_detail: UsageUserDetailTable;
  usage_user_detail_monthly: UsageUserDetailMonthlyTable;
}

/** Budget limits set at run time by admins (migration 2026-11-22T0300); config holds the rest. */
export interface BudgetLimitTable {
  /** global | platform | experience | role | user */
  scope: string;
  /** '' (global), a platform, an Experience slug, a role, or an identity `platform:userId` */
  target: string;
  /** daily | monthly */
  period: string;
  /** tokens | usd */
  unit: string;
  /** null: no limit at this level, whatever config says */
  amount: number | null;
  updated_by: string | null;
  updated_at: Generated<string>;
}

/** A temporary extra allowance for one identity, on every limit its turns meet. */
export interface BudgetGrantTable {
  identity: string;
  unit: string;
  amount: number;
  expires_at: string;
  granted_by: string | null;
  created_at: Generated<string>;
}

/** The 80% warnings already given: one per budget and period. */
export interface BudgetWarningTable {
  /** `<scope key>|<daily|monthly>|<unit>` */
  budget: string;
  /** `2026-11-22` or `2026-11` (UTC) */
  period: string;
  warned_at: Generated<string>;
}

// declaration merging: the budget tables join Database without editing the list above
export interface Database {
  budget_limits: BudgetLimitTable;
  budget_grants: BudgetGrantTable;
  budget_warnings: BudgetWarningTable;
}

export type BudgetLimitRow = Selectable<BudgetLimitTable>;
export type BudgetGrantRow = Selectable<BudgetGrantTable>;

/** Bearer tokens of the OpenAI-compatible API (migration 2026-11-22T0410); only hashes are kept. */
export interface ApiTokenTable {
  id: Generated<number>;
  name: string;
  token_hash: string;
  created_at: Generated<string>;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface Database {
  api_tokens: ApiTokenTable;
}

/** Admin web sessions (migration 2026-12-03T0300); the cookie value is kept only as its SHA-256. */
export interface AdminSessionTable {
  id_hash: string;
  csrf: string;
  address: string;
  created_at: string;
  last_seen_at: string;
  flash: string | null;
}

export interface Database {
  admin_sessions: AdminSessionTable;
}
