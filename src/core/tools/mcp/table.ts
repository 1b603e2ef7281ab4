import type { Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { JsonText } from '../../json-column.js';

/** Which literal env and header values a stored server has saved (never the values). */
export interface McpSecretNames {
  env: string[];
  headers: string[];
}

/** The sealed values themselves, as one JSON object before sealing. */
export interface McpSecretValues {
  env: Record<string, string>;
  headers: Record<string, string>;
}

/** An MCP server added in the admin (migration 2026-12-03T0800); its secrets only sealed. */
export interface McpServerTable {
  id: Generated<number>;
  name: string;
  /** the `mcp.servers.<name>` object without `env`, `headers` and `enabled` */
  config: JsonText<Record<string, unknown>>;
  secret_names: Generated<JsonText<McpSecretNames>>;
  /** `v1:<iv>:<tag>:<data>` of McpSecretValues (core/secrets.ts); null: none */
  secrets_sealed: string | null;
  /** 1 or 0 */
  enabled: Generated<number>;
  created_at: Generated<string>;
  updated_at: Generated<string>;
}

export type McpServerRow = Selectable<McpServerTable>;
export type NewMcpServerRow = Insertable<McpServerTable>;
export type McpServerUpdate = Updateable<McpServerTable>;
