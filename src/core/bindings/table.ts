import type { Generated, Insertable, Selectable } from 'kysely';

/** A channel (or room) bound to an Experience, optionally with a model of its own. */
export interface BindingTable {
  id: Generated<number>;
  platform: string;
  channel_id: string;
  experience_id: number;
  model_override: string | null;
  created_at: Generated<string>;
}

export type BindingRow = Selectable<BindingTable>;
export type NewBindingRow = Insertable<BindingTable>;
