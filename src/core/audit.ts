import type { Db } from './db/open.js';
import type { AuditLogTable } from './audit.table.js';
import type { Selectable } from 'kysely';

/** What an operator did, kept in the audit_log table: who, what, to which thing, and the detail. */
export interface AuditEntry {
  /** "admin@192.168.1.20", "discord:123456" */
  actor: string;
  /** dotted verb: "experience.create", "login.failed" */
  action: string;
  /** what it acted on: an Experience slug, "conversation 12" */
  target?: string | null;
  detail?: string | null;
}

export type AuditRow = Selectable<AuditLogTable>;

const MAX_DETAIL = 2000;

export async function writeAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      actor: entry.actor,
      action: entry.action,
      target: entry.target ?? null,
      detail: entry.detail == null ? null : entry.detail.slice(0, MAX_DETAIL),
    })
    .execute();
}

/** Newest first; `before` pages back by id. */
export async function listAudit(db: Db, options: { limit?: number; before?: number; action?: string } = {}): Promise<AuditRow[]> {
  return db
    .selectFrom('audit_log')
    .selectAll()
    .$if(options.before !== undefined, (qb) => qb.where('id', '<', options.before!))
    .$if(options.action !== undefined && options.action !== '', (qb) => qb.where('action', 'like', `${options.action!}%`))
    .orderBy('id', 'desc')
    .limit(options.limit ?? 100)
    .execute();
}
