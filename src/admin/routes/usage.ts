import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { ThreadloomError } from '../../core/errors.js';
import { formatCount, formatTokens, formatUsd } from '../../core/format/figures.js';
import { addUtcDays } from '../../core/format/utc.js';
import { usageCsv } from '../../core/usage/csv.js';
import { checkRange, lastDays, type UsageFilter, type UsageRange } from '../../core/usage/range.js';
import { usageDimensions, usageReport, type UsageFigures, type UsageReport } from '../../core/usage/report.js';
import { actorOf } from '../audit.js';
import { budgetsView, emptyFormState, formatBudgetAmount, limitMessage, MAX_GRANT_HOURS, parseGrantForm, parseLimitForm, readGrantForm, readLimitForm, type BudgetFormState } from '../budgets-form.js';
import type { AdminContext } from '../context.js';
import { svgChart } from '../svg-chart.js';

/**
 * The Usage page: tokens and cost per day by model as charts, breakdowns by model, Experience,
 * platform and user over a chosen range and filter, and the raw rows as CSV. The page's `to` is
 * the last day shown (inclusive); the report's range ends the day after. Beside the spend, the
 * budgets: each with its progress, who is near or over, and forms to set a limit or grant an override.
 */

const DEFAULT_DAYS = 30;
/** past this many days a bar per day gets too thin to read: lines instead */
const MAX_BAR_DAYS = 92;

interface UsageQuery {
  from?: string;
  to?: string;
  platform?: string;
  experience?: string;
  model?: string;
  user?: string;
}

/** The range and filter a query asks for, checked; defaults to the last 30 days. */
export function readUsageQuery(query: UsageQuery, now: Date): { range: UsageRange; filter: UsageFilter } {
  const fallback = lastDays(now, DEFAULT_DAYS);
  const from = query.from?.trim() || fallback.from;
  const last = query.to?.trim() || addUtcDays(fallback.to, -1);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(last)) throw new ThreadloomError('invalid', `to: "${last}" is not a date (YYYY-MM-DD)`);
  const range = checkRange({ from, to: addUtcDays(last, 1) });
  const filter: UsageFilter = {};
  if (query.platform !== undefined && query.platform !== '') filter.platform = query.platform === '(none)' ? '' : query.platform;
  if (query.experience !== undefined && query.experience !== '') {
    const id = Number(query.experience);
    if (!Number.isInteger(id) || id < 0) throw new ThreadloomError('invalid', `experience: "${query.experience}" is not an Experience id`);
    filter.experienceId = id;
  }
  if (query.model) filter.model = query.model;
  if (query.user !== undefined && query.user !== '') filter.userId = query.user === '(none)' ? '' : query.user;
  return { range, filter };
}

/** The query string that asks for this range and filter (the page's own links carry it along). */
export function usageQueryString(range: UsageRange, filter: UsageFilter, changes: Partial<Record<keyof UsageQuery, string | null>> = {}): string {
  const params: Record<string, string | null> = {
    from: range.from,
    to: addUtcDays(range.to, -1),
    platform: filter.platform === undefined ? null : filter.platform === '' ? '(none)' : filter.platform,
    experience: filter.experienceId === undefined ? null : String(filter.experienceId),
    model: filter.model ?? null,
    user: filter.userId === undefined ? null : filter.userId === '' ? '(none)' : filter.userId,
    ...changes,
  };
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== null && value !== undefined) search.set(key, value);
  return search.toString();
}

interface Row {
  label: string;
  /** a link that narrows the page to this row, if any */
  href: string | null;
  events: string;
  chatTurns: string;
  tokensIn: string;
  tokensOut: string;
  cost: string;
}

/** What the Cost column says for a model the price table does not know: not $0, which would claim it was free. */
const UNPRICED = 'unpriced';

function row(label: string, href: string | null, f: UsageFigures, unpriced = false): Row {
  return {
    label,
    href,
    events: formatCount(f.events),
    chatTurns: formatCount(f.chatTurns),
    tokensIn: formatTokens(f.tokensIn),
    tokensOut: formatTokens(f.tokensOut),
    cost: unpriced ? UNPRICED : formatUsd(f.costUsd),
  };
}

function charts(report: UsageReport): { tokens: string; cost: string } {
  const index = new Map(report.days.map((day, i) => [day, i]));
  const tokens = new Map<string, number[]>();
  const cost = new Map<string, number[]>();
  for (const cell of report.perDay) {
    const i = index.get(cell.day)!;
    if (!tokens.has(cell.model)) {
      tokens.set(cell.model, new Array<number>(report.days.length).fill(0));
      cost.set(cell.model, new Array<number>(report.days.length).fill(0));
    }
    tokens.get(cell.model)![i] = cell.tokensIn + cell.tokensOut;
    cost.get(cell.model)![i] = cell.costUsd;
  }
  const kind = report.days.length <= MAX_BAR_DAYS ? 'bar' : 'line';
  const dayLabel = (day: string): string => day.slice(5);
  const series = (values: Map<string, number[]>) => [...values].map(([name, v]) => ({ name, values: v }));
  return {
    tokens: svgChart({ title: 'Tokens per day by model', categories: report.days, series: series(tokens), kind, format: formatTokens, categoryLabel: dayLabel }),
    cost: svgChart({ title: 'Cost per day by model (USD)', categories: report.days, series: series(cost), kind, format: formatUsd, categoryLabel: dayLabel }),
  };
}

/** The budget section's data: the overview as the page shows it, and the forms' state. */
async function budgetSection(ctx: AdminContext, form: BudgetFormState): Promise<Record<string, unknown>> {
  const service = ctx.runtime.budgets;
  const overview = await service.budgetOverview(ctx.now());
  return { budgets: await budgetsView(ctx.runtime.database.db, service, overview), form, maxGrantHours: MAX_GRANT_HOURS };
}

async function renderUsage(ctx: AdminContext, reply: FastifyReply, query: UsageQuery, form: BudgetFormState = emptyFormState()): Promise<FastifyReply> {
  const db = ctx.runtime.database.db;
  const { range, filter } = readUsageQuery(query, ctx.now());
  const [report, dimensions, experiences, budgets] = await Promise.all([
    usageReport(db, range, filter),
    usageDimensions(db),
    ctx.runtime.deps.experiences.list({ includeArchived: true }),
    budgetSection(ctx, form),
  ]);
  const link = (changes: Partial<Record<keyof UsageQuery, string | null>>): string => `/usage?${usageQueryString(range, filter, changes)}`;
  const experienceName = (id: number | null, name: string | null): string => (id === null ? '(no Experience)' : (name ?? `Experience #${id} (deleted)`));
  // cost is fixed when a row is written, and an unknown model's rows are written at 0: a model the
  // price table still does not know, with nothing charged, is unpriced rather than free
  const prices = ctx.runtime.deps.prices;
  const unpriced = report.byModel.filter((m) => m.costUsd === 0 && !prices.isPriced(m.model));
  const userLabel = (u: UsageReport['byUser'][number]): string =>
    u.userId === null ? '(no user)' : `${u.name ? `${u.name} · ` : ''}${u.platform ?? '?'}:${u.userId}`;
  return reply.page('usage', {
    title: 'Usage',
    range: { from: range.from, to: addUtcDays(range.to, -1), days: report.days.length },
    filter,
    filterLabels: {
      experience: filter.experienceId === undefined ? null : experienceName(filter.experienceId || null, experiences.find((e) => e.id === filter.experienceId)?.name ?? null),
      user: filter.userId === undefined ? null : filter.userId === '' ? '(no user)' : `${filter.platform ?? ''}:${filter.userId}`,
    },
    platforms: dimensions.platforms,
    models: dimensions.models,
    experiences: experiences.map((e) => ({ id: e.id, name: e.name })),
    totals: row('Total', null, report.totals),
    unpricedCalls: unpriced.length ? formatCount(unpriced.reduce((sum, m) => sum + m.events, 0)) : null,
    charts: charts(report),
    byModel: report.byModel.map((m) => row(m.model, link({ model: m.model }), m, unpriced.includes(m))),
    byExperience: report.byExperience.map((e) => row(experienceName(e.experienceId, e.name), link({ experience: String(e.experienceId ?? 0) }), e)),
    byPlatform: report.byPlatform.map((p) => row(p.platform ?? '(none)', link({ platform: p.platform ?? '(none)' }), p)),
    byUser: report.byUser.map((u) => row(userLabel(u), link({ platform: u.platform ?? '(none)', user: u.userId ?? '(none)' }), u)),
    userCount: report.userCount,
    csvHref: `/usage.csv?${usageQueryString(range, filter)}`,
    clearHref: `/usage?${usageQueryString(range, {})}`,
    budgetSection: budgets,
  });
}

/**
 * After a budget form: htmx gets the section alone (422 with the messages beside the fields when
 * something was wrong); a plain form gets the page back with the messages, or a redirect.
 */
async function answerBudgetForm(ctx: AdminContext, request: FastifyRequest, reply: FastifyReply, form: BudgetFormState, ok: boolean): Promise<FastifyReply> {
  if (!ok) reply.code(422);
  if (request.isHtmx) return reply.partial('usage-budgets', await budgetSection(ctx, form));
  if (!ok) return renderUsage(ctx, reply, {}, form);
  request.session!.flash = form.message;
  return reply.redirect('/usage#budgets', 303);
}

export function registerUsageRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get<{ Querystring: UsageQuery }>('/usage', async (request, reply) => renderUsage(ctx, reply, request.query));

  // setLimit and grant write their own audit entry (budget.set, budget.override) with the admin
  // as actor, `admin@<address>` exactly as audit() writes it: one entry per change, not two
  app.post('/usage/budgets/limit', async (request, reply) => {
    const values = readLimitForm(request.body);
    const parsed = parseLimitForm(values);
    const failed = (limitErrors: Record<string, string>) => answerBudgetForm(ctx, request, reply, { ...emptyFormState(), limit: values, limitErrors }, false);
    if ('errors' in parsed) return failed(parsed.errors);
    const { change } = parsed;
    if (change.scope === 'experience' && !(await ctx.runtime.deps.experiences.get(change.target))) return failed({ who: `there is no Experience "${change.target}"` });
    const service = ctx.runtime.budgets;
    await service.setLimit({ ...change, by: actorOf(request) });
    const fallback = change.amount === undefined ? service.limitRules.slot(change.scope, change.target, change.period, change.unit)?.limit : undefined;
    return answerBudgetForm(ctx, request, reply, emptyFormState(limitMessage(change, fallback)), true);
  });

  app.post('/usage/budgets/grant', async (request, reply) => {
    const values = readGrantForm(request.body);
    const parsed = parseGrantForm(values);
    if ('errors' in parsed) return answerBudgetForm(ctx, request, reply, { ...emptyFormState(), grant: values, grantErrors: parsed.errors }, false);
    const { identity, unit, amount, hours } = parsed.grant;
    const row = await ctx.runtime.budgets.grant(identity, unit, amount, hours, actorOf(request));
    const message = `${identity} gets ${formatBudgetAmount(unit, amount)} extra on every limit their turns meet until ${row.expires_at.slice(0, 16).replace('T', ' ')} UTC.`;
    return answerBudgetForm(ctx, request, reply, emptyFormState(message), true);
  });

  app.get<{ Querystring: UsageQuery }>('/usage.csv', async (request, reply) => {
    const { range, filter } = readUsageQuery(request.query, ctx.now());
    const name = `threadloom-usage-${range.from}-to-${addUtcDays(range.to, -1)}.csv`;
    reply.header('content-type', 'text/csv; charset=utf-8');
    reply.header('content-disposition', `attachment; filename="${name}"`);
    // pages of rows as the client reads them: a year of usage never sits in memory at once
    const prices = ctx.runtime.deps.prices;
    return reply.send(Readable.from(usageCsv(ctx.runtime.database.db, range, filter, (model) => prices.isPriced(model))));
  });
}
