import type { FastifyInstance } from 'fastify';
import { listAudit } from '../../core/audit.js';
import type { AdminContext } from '../context.js';

const PAGE_SIZE = 100;

/** The audit log: every admin action, newest first, filtered by action prefix, paged by id. */
export function registerAuditRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get<{ Querystring: { action?: string; before?: string } }>('/audit', async (request, reply) => {
    const before = Number(request.query.before);
    const action = (request.query.action ?? '').trim();
    const entries = await listAudit(ctx.runtime.database.db, {
      limit: PAGE_SIZE,
      action,
      ...(Number.isInteger(before) && before > 0 ? { before } : {}),
    });
    const older = entries.length === PAGE_SIZE ? entries.at(-1)!.id : null;
    return reply.page('audit', { title: 'Audit log', entries, action, older });
  });
}
