import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/** A provider connection added in the admin (migration 2026-12-03T0600); the key only sealed. */
export interface ProviderConnectionTable {
  id: Generated<number>;
  name: string;
  kind: 'openai' | 'anthropic' | 'ollama';
  /** the API base URL; for Ollama its host */
  base_url: string;
  /** `v1:<iv>:<tag>:<data>` from core/secrets.ts; null: no key */
  api_key_sealed: string | null;
  max_concurrent: Generated<number>;
  requests_per_minute: number | null;
  /** 1 or 0 */
  enabled: Generated<number>;
  created_at: Generated<string>;
  updated_at: Generated<string>;
}

export type ProviderConnectionRow = Selectable<ProviderConnectionTable>;
export type NewProviderConnectionRow = Insertable<ProviderConnectionTable>;
export type ProviderConnectionUpdate = Updateable<ProviderConnectionTable>;
