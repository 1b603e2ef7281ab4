import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { JsonText } from '../json-column.js';

/** A conversation is a thread; its messages form a tree by parent_id. */
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
  /** which one-time notices this conversation has had */
  notices: Generated<JsonText<Record<string, boolean>>>;
  created_by: string | null;
  created_at: Generated<string>;
  updated_at: Generated<string>;
  archived_at: string | null;
}

export type MessageRole = 'user' | 'assistant' | 'tool';

/** A tool call an assistant node asked for; its result is a 'tool' node under it. */
export interface StoredToolCall {
  id: string;
  name: string;
  /** JSON text as the model wrote it */
  arguments: string;
}

/** A document an answer cites as [n]: where the admin and the exports link it. */
export interface CitedSource {
  n: number;
  documentId: number;
  title: string;
  fileName: string;
  pageStart: number | null;
  pageEnd: number | null;
  headings: string[];
}

/** How a tool ran, kept on its result node for the admin's conversation page. */
export interface ToolRunMeta {
  /** what people see: `proxmox › list_vms` */
  title: string;
  /** `builtin` or the MCP server's name */
  source: string;
  status: 'ok' | 'error' | 'denied' | 'timeout' | 'stopped';
  durationMs: number;
  /** `platform:userId` of who approved a `confirm` tool; null when it ran on its own */
  approvedBy: string | null;
  /** the result was cut to this many characters before the model saw it */
  truncatedFrom?: number;
}
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
  /** assistant: the calls it asked for */
  tool_calls: JsonText<StoredToolCall[]> | null;
  /** tool: the call this node is the result of */
  tool_call_id: string | null;
  /** tool: the tool's name as the model called it */
  tool_name: string | null;
  tool_meta: JsonText<ToolRunMeta> | null;
  /** assistant: the documents it cites, by their numbers in its text */
  sources: JsonText<CitedSource[]> | null;
  /** the instance writing an answer while it streams (several instances on PostgreSQL); null otherwise */
  writer: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Generated<string>;
}

export interface SummaryTable {
  id: Generated<number>;
  conversation_id: number;
  message_id: number;
  content: string;
  token_count: number;
  model: string | null;
  created_at: Generated<string>;
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

/** Which platform message (or part of a long answer) shows which node of the tree. */
export interface PlatformMessageTable {
  platform: string;
  platform_message_id: string;
  message_id: number;
  conversation_id: number;
  part: Generated<number>;
}

export type ConversationRow = Selectable<ConversationTable>;
export type NewConversationRow = Insertable<ConversationTable>;
export type ConversationRowUpdate = Updateable<ConversationTable>;
export type MessageRow = Selectable<MessageTable>;
export type NewMessageRow = Insertable<MessageTable>;
export type SummaryRow = Selectable<SummaryTable>;
export type AttachmentRow = Selectable<AttachmentTable>;
export type PlatformMessageRow = Selectable<PlatformMessageTable>;
