import type { FastifyRequest } from 'fastify';
import { writeAudit } from '../core/audit.js';
import type { AdminContext } from './context.js';

/** Who did it, as the audit log shows it: the admin and the address they came from. */
export function actorOf(request: FastifyRequest): string {
  return `admin@${request.ip}`;
}

/**
 * Writes one admin action to the audit log (the Audit page). Call it after the action succeeded:
 *   await audit(ctx, request, 'experience.archive', undefined, slug)
 * `action` is a dotted verb ("backup.restore"), `detail` free text, `target` what it acted on.
 */
export async function audit(ctx: AdminContext, request: FastifyRequest, action: string, detail?: string | null, target?: string | null): Promise<void> {
  await writeAudit(ctx.runtime.database.db, { actor: actorOf(request), action, target: target ?? null, detail: detail ?? null });
}
