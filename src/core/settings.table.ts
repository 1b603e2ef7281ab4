import type { Generated } from 'kysely';

/** Settings made at run time (the admin web), by key; values are JSON. */
export interface SettingTable {
  key: string;
  value: string;
  updated_at: Generated<string>;
}
