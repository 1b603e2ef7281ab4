import type { FastifyInstance } from 'fastify';
import type { Config } from '../../core/config.js';
import type { PlatformStatus } from '../../core/platforms.js';
import { startOfUtcDay } from '../../core/format/utc.js';
import { recentFailures, usageSince } from '../../core/usage/ledger.js';
import { budgetsView } from '../budgets-form.js';
import type { AdminContext } from '../context.js';
import { ProviderProbe } from '../provider-status.js';

const RECENT_ERRORS = 10;

/** What to set for a platform whose adapter never reported because it was not configured. */
function missingCredentials(config: Config, platform: string): string | null {
  if (platform === 'discord' && !config.discord.token) return 'not configured: set DISCORD_TOKEN';
  if (platform === 'slack' && !config.slack.botToken) return 'not configured: set SLACK_BOT_TOKEN and SLACK_APP_TOKEN (or SLACK_SIGNING_SECRET)';
  if (platform === 'matrix' && !config.matrix.homeserverURL) return 'not configured: set MATRIX_HOMESERVER_URL and MATRIX_ACCESS_TOKEN';
  return null;
}

function withReason(config: Config, status: PlatformStatus): PlatformStatus {
  if (status.state !== 'off' || status.detail !== 'not started') return status;
  return { ...status, detail: missingCredentials(config, status.platform) ?? status.detail };
}


/**
 * The dashboard: platforms (connected or why not), today's figures, the budgets near or over
 * (with the warnings given) and the latest provider errors at once; the providers' reachability
 * comes in a second request (it waits on the network).
 */
export function registerDashboardRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const probe = new ProviderProbe(ctx.runtime.deps.router, ctx.now);
  const db = ctx.runtime.database.db;

  app.get('/', async (_request, reply) => {
    const today = await usageSince(db, startOfUtcDay(ctx.now()));
    const errors = await recentFailures(db, RECENT_ERRORS);
    const budgets = await budgetsView(db, ctx.runtime.budgets, await ctx.runtime.budgets.budgetOverview(ctx.now()));
    const search = (await ctx.runtime.deps.search?.indexer.status()) ?? null;
    const knowledge = (await ctx.runtime.knowledge?.status()) ?? null;
    return reply.page('dashboard', { title: 'Dashboard', platforms: ctx.platforms.list().map((p) => withReason(ctx.config, p)), today, errors, budgets, search, knowledge, readiness: ctx.runtime.readiness.problem });
  });

  app.get<{ Querystring: { fresh?: string } }>('/dashboard/providers', async (request, reply) => {
    const providers = await probe.statuses({ fresh: request.query.fresh === '1' });
    return reply.partial('dashboard-providers', { providers });
  });
}
