import type { Generated, Selectable } from 'kysely';

/** People the bots have met: their display name and role (for budgets by role). */
export interface UserTable {
  id: Generated<number>;
  platform: string;
  platform_user_id: string;
  name: string | null;
  role: Generated<'user' | 'admin'>;
  quota: string | null;
  created_at: Generated<string>;
}

export type UserRow = Selectable<UserTable>;
