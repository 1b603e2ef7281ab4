import type { Generated, Selectable } from 'kysely';

/** Bearer tokens of the OpenAI-compatible API (migration 2026-11-22T0410); only hashes are kept. */
export interface ApiTokenTable {
  id: Generated<number>;
  name: string;
  token_hash: string;
  created_at: Generated<string>;
  last_used_at: string | null;
  revoked_at: string | null;
}

export type ApiTokenRow = Selectable<ApiTokenTable>;
