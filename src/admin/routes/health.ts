import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { AdminContext } from '../context.js';

/**
 * /healthz: for a container's health check, without auth, so it says nothing secret — only
 * whether the database answers and which platforms are connected.
 * /metrics: Prometheus text; needs a session or HTTP Basic auth with the admin password.
 */
export function registerHealthRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get('/healthz', { config: { public: true } }, async (_request, reply) => {
    let database = true;
    try {
      await sql`SELECT 1`.execute(ctx.runtime.database.db);
    } catch {
      database = false;
    }
    const platforms = Object.fromEntries(ctx.platforms.list().map((p) => [p.platform, p.state]));
    reply.code(database ? 200 : 503);
    return { status: database ? 'ok' : 'degraded', database: database ? 'ok' : 'unavailable', platforms };
  });

  // browsers ask for it on every page; without this they would be sent to the login page
  app.get('/favicon.ico', { config: { public: true } }, async (_request, reply) => reply.code(204).send());

  app.get('/metrics', { config: { basicAuth: true } }, async (_request, reply) => {
    reply.type(ctx.metrics.contentType);
    return ctx.metrics.render();
  });
}
