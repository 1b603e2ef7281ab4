import type { Generated, Selectable } from 'kysely';

/** Who did what in the admin web and by admin commands. */
export interface AuditLogTable {
  id: Generated<number>;
  created_at: Generated<string>;
  actor: string;
  action: string;
  target: string | null;
  detail: string | null;
}

export type AuditLogRow = Selectable<AuditLogTable>;
