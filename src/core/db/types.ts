import type { Kysely, Transaction } from 'kysely';
import type { AdminSessionTable, LoginFailureTable } from '../admin-sessions.table.js';
import type { ApiTokenTable } from '../api-tokens.table.js';
import type { AuditLogTable } from '../audit.table.js';
import type { BindingTable } from '../bindings/table.js';
import type { BudgetGrantTable, BudgetHoldTable, BudgetLimitTable, BudgetWarningTable } from '../budgets/table.js';
import type { ProviderConnectionTable } from '../connections/table.js';
import type { AttachmentTable, ConversationTable, MessageTable, PlatformMessageTable, SummaryTable } from '../conversations/table.js';
import type { ExperienceTable } from '../experiences/table.js';
import type { LeaseTable, PlatformStateTable, SharedChangeTable } from '../instances/table.js';
import type { KnowledgeChunkTable, KnowledgeDocumentTable, KnowledgeIndexTable, KnowledgeQueueTable } from '../knowledge/table.js';
import type { ModelTable } from '../providers/table.js';
import type { McpServerTable } from '../tools/mcp/table.js';
import type { SettingTable } from '../settings.table.js';
import type { ProcessedEventTable, TurnRateEventTable } from '../turns/table.js';
import type {
  UsageDailyTable,
  UsageDayModelTable,
  UsageEventTable,
  UsageMonthlyTable,
  UsageUserDailyTable,
  UsageUserDetailMonthlyTable,
  UsageUserDetailTable,
  UsageUserMonthlyTable,
} from '../usage/table.js';
import type { UserTable } from '../users/table.js';

/**
 * Every table, by name. Each table's columns and row types live beside its repository
 * (`<feature>/table.ts`); timestamps are ISO-8601 UTC text, JSON columns are `JsonText<T>`.
 * The search index's tables (FTS5, sqlite-vec) are reached through raw SQL in search/store.ts.
 */
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
  usage_day_model: UsageDayModelTable;
  usage_daily: UsageDailyTable;
  usage_monthly: UsageMonthlyTable;
  usage_user_daily: UsageUserDailyTable;
  usage_user_monthly: UsageUserMonthlyTable;
  usage_user_detail: UsageUserDetailTable;
  usage_user_detail_monthly: UsageUserDetailMonthlyTable;
  budget_limits: BudgetLimitTable;
  budget_grants: BudgetGrantTable;
  budget_warnings: BudgetWarningTable;
  budget_holds: BudgetHoldTable;
  models: ModelTable;
  settings: SettingTable;
  audit_log: AuditLogTable;
  api_tokens: ApiTokenTable;
  admin_sessions: AdminSessionTable;
  login_failures: LoginFailureTable;
  provider_connections: ProviderConnectionTable;
  mcp_servers: McpServerTable;
  knowledge_documents: KnowledgeDocumentTable;
  knowledge_chunks: KnowledgeChunkTable;
  knowledge_queue: KnowledgeQueueTable;
  knowledge_index: KnowledgeIndexTable;
  leases: LeaseTable;
  turn_rate_events: TurnRateEventTable;
  shared_changes: SharedChangeTable;
  platform_state: PlatformStateTable;
}

/** A connection or a transaction: what a repository function takes when its caller may hold one. */
export type DbExecutor = Kysely<Database> | Transaction<Database>;
