import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import fastifyView from '@fastify/view';
import { Eta } from 'eta';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ThreadloomError } from '../core/errors.js';
import { registerAuth } from './auth.js';
import type { AdminContext } from './context.js';
import { DEFAULT_LIMITS, registerBodyDeadlines, serverOptions, type ConnectionLimits } from './limits.js';
import { ensureAdminPassword } from './password.js';
import { htmxDistDir, viewsDir } from './paths.js';
import { registerRendering } from './render.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerConnectionsRoutes } from './routes/connections.js';
import { registerToolsRoutes } from './routes/tools.js';
import { registerKnowledgeRoutes } from './routes/knowledge.js';
import { registerConversationRoutes } from './routes/conversations.js';
import { registerDashboardRoutes } from './routes/dashboard.js';
import { registerExperienceRoutes } from './routes/experiences.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerSettingsRoutes } from './routes/settings.js';
import { registerSecurityHeaders } from './security.js';
import { registerModelsRoutes } from './routes/models.js';
import { registerUsageRoutes } from './routes/usage.js';
import { registerBackupsRoutes } from './routes/backups.js';
import { registerApiTokenRoutes } from './routes/api-tokens.js';
import { registerOpenAIApiRoutes } from './routes/openai-api.js';
import { formatUsd } from '../core/format/figures.js';

/** One line per page; each file registers its own routes. */
const PAGES: ReadonlyArray<(app: FastifyInstance, ctx: AdminContext) => void> = [
  registerDashboardRoutes,
  registerExperienceRoutes,
  registerConversationRoutes,
  registerSettingsRoutes,
  registerAuditRoutes,
  registerHealthRoutes,
  registerModelsRoutes,
  registerConnectionsRoutes,
  registerToolsRoutes,
  registerKnowledgeRoutes,
  registerUsageRoutes,
  registerBackupsRoutes,
  registerApiTokenRoutes,
  registerOpenAIApiRoutes,
];

/**
 * Helpers every template can call: `money(usd)` (the chat's own `formatUsd`: "$1,234.56",
 * "$0.000025" for small sums) and `utc(iso)` ("2026-11-22 08:00 UTC" from an ISO timestamp).
 * Templates run with the Eta instance as `this`, which carries them.
 */
const TEMPLATE_HELPERS = 'const { money, utc } = this.threadloom;';

function templateEngine(views: string): Eta {
  const eta = new Eta({ views, autoTrim: [false, 'nl'], functionHeader: TEMPLATE_HELPERS });
  Object.assign(eta, {
    threadloom: {
      money: (usd: unknown) => formatUsd(Number(usd) || 0),
      utc: (iso: unknown) => (iso ? `${String(iso).replace('T', ' ').slice(0, 16)} UTC` : ''),
    },
  });
  return eta;
}

const STATUS_FOR_CODE: Partial<Record<ThreadloomError['code'], number>> = { not_found: 404, invalid: 400, forbidden: 403, rate_limited: 429, unsupported: 400 };

/**
 * The admin web as a Fastify instance, not listening (tests use `app.inject`). Plugins first,
 * then the decorators and hooks (render, security headers, auth), then the pages.
 */
export function buildAdminApp(ctx: AdminContext, limits: ConnectionLimits = DEFAULT_LIMITS): FastifyInstance {
  // behind a reverse proxy (admin.trustProxy) request.ip and request.protocol come from X-Forwarded-*
  const { trustProxy } = ctx.config.admin;
  const trust = typeof trustProxy === 'number' ? (_address: string, hop: number) => hop < trustProxy : trustProxy;
  const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024, trustProxy: trust, ...serverOptions(limits) });
  registerBodyDeadlines(app, limits);
  const views = viewsDir();
  const htmx = htmxDistDir();

  app.register(formbody);
  app.register(fastifyView, { engine: { eta: templateEngine(views) }, templates: views });

  app.register(async (scoped) => {
    registerRendering(scoped);
    registerSecurityHeaders(scoped);
    registerAuth(scoped, ctx);
    scoped.register(fastifyStatic, { root: path.join(views, 'static'), prefix: '/static/', index: false, wildcard: false });

    // htmx and its extensions straight from node_modules: /static/htmx.min.js, /static/htmx/ext/hx-sse.min.js
    const extensions = new Set(readdirSync(path.join(htmx, 'ext')).filter((f) => f.endsWith('.js')));
    scoped.get('/static/htmx.min.js', (_request, reply) => reply.sendFile('htmx.min.js', htmx));
    scoped.get<{ Params: { file: string } }>('/static/htmx/ext/:file', (request, reply) => {
      if (!extensions.has(request.params.file)) return reply.code(404).send('not found');
      return reply.sendFile(request.params.file, path.join(htmx, 'ext'));
    });

    for (const register of PAGES) register(scoped, ctx);

    scoped.setNotFoundHandler(async (request, reply) => {
      reply.code(404);
      return reply.page('error', { title: 'Not found', message: `Nothing here: ${request.url.split('?')[0]}` });
    });

    scoped.setErrorHandler(async (error: FastifyError | ThreadloomError, request, reply) => {
      const status = error instanceof ThreadloomError ? (STATUS_FOR_CODE[error.code] ?? 500) : error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
      if (status >= 500) ctx.log.error('admin: request failed', { method: request.method, url: request.url, error: error.message });
      // 5xx details stay in the log; a 4xx message is about what the admin sent
      const message = status >= 500 ? 'Something went wrong on the server; the log has the details.' : error instanceof ThreadloomError ? error.userMessage : error.message;
      reply.code(status);
      if (reply.sent) return reply;
      return reply.page('error', { title: status === 404 ? 'Not found' : 'Error', message });
    });
  });

  app.addHook('onReady', async () => {
    const { generated } = await ensureAdminPassword(ctx);
    if (generated) {
      ctx.log.warn(
        `admin password generated (shown only this once): ${generated} — sign in at the admin web with it; set THREADLOOM_ADMIN_PASSWORD (or admin.password in the config file) to choose your own`,
      );
    }
  });
  return app;
}
