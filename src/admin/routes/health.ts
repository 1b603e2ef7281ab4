import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { WriteCheck } from '../../core/health.js';
import type { AdminContext } from '../context.js';

/**
 * /healthz: for a container's health check, without auth, so it says little — whether the
 * database answers, whether the data directory takes writes (a full disk answers `SELECT 1`
 * happily), and which platforms are connected. When it is not ok, `reason` says why, naming the
 * data directory, with a short cause (never an error's own text).
 * /metrics: Prometheus text; needs a session or HTTP Basic auth with the admin password.
 */
export function registerHealthRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const writes = new WriteCheck({
    dataDir: () => ctx.config.dataDir,
    now: ctx.now,
    onChange: (health, err) => {
      if (health.ok) ctx.log.info('the data directory takes writes again');
      else ctx.log.error(`${health.reason} — /healthz answers 503 until it does: ${err instanceof Error ? err.message : String(err)}`);
    },
  });

  app.get('/healthz', { config: { public: true } }, async (_request, reply) => {
    const reasons: string[] = [];
    let database = true;
    try {
      await sql`SELECT 1`.execute(ctx.runtime.database.db);
    } catch {
      database = false;
      reasons.push('the database does not answer');
    }
    const written = await writes.check();
    if (!written.ok) reasons.push(written.reason);
    const platforms = Object.fromEntries(ctx.platforms.list().map((p) => [p.platform, p.state]));
    if (!reasons.length) return { status: 'ok', database: 'ok', platforms };
    reply.code(503);
    return { status: 'degraded', database: database ? 'ok' : 'unavailable', reason: reasons.join('; '), platforms };
  });

  // browsers ask for it on every page; without this they would be sent to the login page
  app.get('/favicon.ico', { config: { public: true } }, async (_request, reply) => reply.code(204).send());

  app.get('/metrics', { config: { basicAuth: true } }, async (_request, reply) => {
    reply.type(ctx.metrics.contentType);
    return ctx.metrics.render();
  });
}
