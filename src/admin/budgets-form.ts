import { BUDGET_PERIODS, type BudgetPeriod } from '../core/budgets/periods.js';
import { BUDGET_UNITS, type BudgetLevel, type BudgetUnit, type BudgetUse, type LimitScope } from '../core/budgets/rules.js';
import type { BudgetOverview } from '../core/budgets/overview.js';
import type { BudgetService } from '../core/budgets/service.js';
import type { LimitChange } from '../core/budgets/store.js';
import type { Db } from '../core/db/open.js';
import { slugSchema } from '../core/experiences/schema.js';
import type { FieldErrors } from './experience-form.js';
import { parseUserKey } from '../core/identity.js';
import { displayNames } from '../core/users/repository.js';

/**
 * The budgets on the Usage page: the two forms (set a limit, grant a temporary override) read and
 * checked with one message per field, and `budgetOverview()` shaped for the templates, so they
 * only print strings and numbers. Who a limit is for uses the chat command's words: an identity
 * `platform:userId`, `@role`, `global`, `platform:<name>`, `experience:<slug>`.
 */

/** An override longer than a month is a limit: set one instead (as in chat). */
export const MAX_GRANT_HOURS = 31 * 24;
/** beyond this an amount is a typo, not a budget */
const MAX_TOKENS = 1e12;
const MAX_USD = 1e9;

const IDENTITY = /^[a-z0-9][a-z0-9_-]*:\S+$/;
const ROLE = /^@[a-z0-9][a-z0-9_-]*$/;

export type LimitFormValues = { who: string; period: string; unit: string; amount: string };
export type GrantFormValues = { identity: string; unit: string; amount: string; hours: string };

/** What the budget section shows under its forms: what was typed, what is wrong, what happened. */
export interface BudgetFormState {
  limit: LimitFormValues;
  grant: GrantFormValues;
  limitErrors: FieldErrors;
  grantErrors: FieldErrors;
  /** one line after a change went through */
  message: string | null;
}

export function emptyFormState(message: string | null = null): BudgetFormState {
  return {
    limit: { who: '', period: 'daily', unit: 'tokens', amount: '' },
    grant: { identity: '', unit: 'tokens', amount: '', hours: '24' },
    limitErrors: {},
    grantErrors: {},
    message,
  };
}

function text(body: unknown, name: string): string {
  const value = (body && typeof body === 'object' ? (body as Record<string, unknown>) : {})[name];
  return typeof value === 'string' ? value.trim() : '';
}

export function readLimitForm(body: unknown): LimitFormValues {
  return { who: text(body, 'who'), period: text(body, 'period'), unit: text(body, 'unit'), amount: text(body, 'amount') };
}

export function readGrantForm(body: unknown): GrantFormValues {
  return { identity: text(body, 'identity'), unit: text(body, 'unit'), amount: text(body, 'amount'), hours: text(body, 'hours') };
}

/** The scope and target a "who" names, or why it names none. */
export function parseWho(who: string): { scope: LimitScope; target: string } | { error: string } {
  if (!who) return { error: 'say whose limit: platform:userId, @role, global, platform:<name> or experience:<slug>' };
  if (who === 'global') return { scope: 'global', target: '' };
  if (who.startsWith('@')) return ROLE.test(who) ? { scope: 'role', target: who.slice(1) } : { error: 'a role is @ and a lower-case name, such as @user' };
  if (!IDENTITY.test(who)) return { error: `"${who}" is not platform:userId, @role, global, platform:<name> or experience:<slug>` };
  const colon = who.indexOf(':');
  const [prefix, rest] = [who.slice(0, colon), who.slice(colon + 1)];
  if (prefix === 'platform') return { scope: 'platform', target: rest };
  if (prefix === 'experience') {
    return slugSchema.safeParse(rest).success ? { scope: 'experience', target: rest } : { error: `"${rest}" is not an Experience slug` };
  }
  return { scope: 'user', target: who };
}

/** `40000`, `40,000`, `40k`, `1.5m` tokens; `5`, `$5`, `2.50` dollars; else why not. */
export function parseAmount(unit: BudgetUnit, value: string): number | { error: string } {
  const match = /^\$?(\d[\d,_]*(?:\.\d+)?)([km]?)$/i.exec(value);
  const scale = { '': 1, k: 1e3, m: 1e6 }[(match?.[2] ?? '').toLowerCase()] ?? 1;
  const n = match ? Number(match[1]!.replace(/[,_]/g, '')) * scale : NaN;
  const what = unit === 'usd' ? 'dollars, such as 5 or 2.50' : 'tokens, such as 50000 or 50k';
  if (!(n > 0)) return { error: `"${value}" is not an amount: a number above 0 (${what})` };
  if (n > (unit === 'usd' ? MAX_USD : MAX_TOKENS)) return { error: `${value} is more than any budget needs` };
  return unit === 'tokens' ? Math.max(1, Math.round(n)) : n;
}

function parsePeriod(value: string, errors: FieldErrors): BudgetPeriod | null {
  if (BUDGET_PERIODS.includes(value as BudgetPeriod)) return value as BudgetPeriod;
  errors.period = 'daily or monthly';
  return null;
}

function parseUnit(value: string, errors: FieldErrors): BudgetUnit | null {
  if (BUDGET_UNITS.includes(value as BudgetUnit)) return value as BudgetUnit;
  errors.unit = 'tokens or usd';
  return null;
}

/** The limit change the form asks for (without `by`), or one message per wrong field. */
export function parseLimitForm(values: LimitFormValues): { change: Omit<LimitChange, 'at' | 'by'> } | { errors: FieldErrors } {
  const errors: FieldErrors = {};
  const who = parseWho(values.who);
  if ('error' in who) errors.who = who.error;
  const period = parsePeriod(values.period, errors);
  const unit = parseUnit(values.unit, errors);
  let amount: number | null | undefined;
  const word = values.amount.toLowerCase();
  if (word === 'none') amount = null;
  else if (word === 'default') amount = undefined;
  else if (!values.amount) errors.amount = 'a number, none (no limit here) or default (the config file’s)';
  else if (unit) {
    const parsed = parseAmount(unit, values.amount);
    if (typeof parsed === 'number') amount = parsed;
    else errors.amount = `${parsed.error}; or none, or default`;
  }
  if (Object.keys(errors).length || 'error' in who || !period || !unit) return { errors };
  return { change: { scope: who.scope, target: who.target, period, unit, amount } };
}

/** The override the form asks for, or one message per wrong field. */
export function parseGrantForm(values: GrantFormValues): { grant: { identity: string; unit: BudgetUnit; amount: number; hours: number } } | { errors: FieldErrors } {
  const errors: FieldErrors = {};
  const who = parseWho(values.identity);
  if ('error' in who || who.scope !== 'user') errors.identity = 'an override is for one person: platform:userId, such as discord:81234';
  const unit = parseUnit(values.unit, errors);
  let amount: number | null = null;
  if (unit) {
    const parsed = parseAmount(unit, values.amount);
    if (typeof parsed === 'number') amount = parsed;
    else errors.amount = parsed.error;
  }
  const hours = Number(/^(\d+(?:\.\d+)?)\s*h?$/i.exec(values.hours)?.[1] ?? NaN);
  if (!(hours > 0 && hours <= MAX_GRANT_HOURS)) errors.hours = `hours, from 1 to ${MAX_GRANT_HOURS} (a longer one is a limit: set it above)`;
  if (Object.keys(errors).length || !unit || amount === null) return { errors };
  return { grant: { identity: values.identity, unit, amount, hours } };
}

// ---- the overview, shaped for the page ----

const COUNT = new Intl.NumberFormat('en');

export function formatBudgetAmount(unit: BudgetUnit, value: number): string {
  if (unit === 'tokens') return `${COUNT.format(Math.round(value))} tokens`;
  if (value === 0) return '$0';
  return Math.abs(value) < 0.01 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`;
}

/** The Usage page's link narrowing it to one identity, or null for anything else. */
export function userUsageHref(identity: string): string | null {
  const parsed = parseUserKey(identity);
  return parsed ? `/usage?${new URLSearchParams({ platform: parsed.platform, user: parsed.userId }).toString()}` : null;
}

function whoLabel(level: BudgetLevel, target: string, names: ReadonlyMap<string, string>): string {
  switch (level) {
    case 'global':
      return 'Everyone (global)';
    case 'platform':
      return `Platform ${target}`;
    case 'experience':
      return `Experience ${target}`;
    case 'user': {
      const name = names.get(target);
      return name ? `${name} · ${target}` : target;
    }
  }
}

export interface BudgetRowView {
  /** `<scope key>|<period>|<unit>`: the same name the warnings use */
  id: string;
  level: BudgetLevel;
  who: string;
  href: string | null;
  period: BudgetPeriod;
  unit: BudgetUnit;
  used: string;
  limit: string;
  extra: string | null;
  inFlight: string | null;
  /** for `<progress value max>`: the spend (at most the allowance) and the allowance */
  value: number;
  max: number;
  percent: number;
  state: 'ok' | 'near' | 'over';
  resetsAt: string;
  source: string;
}

function rowOf(use: BudgetUse, warnAt: number, names: ReadonlyMap<string, string>): BudgetRowView {
  const max = use.limit + use.extra;
  const share = max > 0 ? use.used / max : 1;
  return {
    id: `${use.key}|${use.period}|${use.unit}`,
    level: use.level,
    who: whoLabel(use.level, use.target, names),
    href: use.level === 'user' ? userUsageHref(use.target) : null,
    period: use.period,
    unit: use.unit,
    used: formatBudgetAmount(use.unit, use.used),
    limit: formatBudgetAmount(use.unit, use.limit),
    extra: use.extra > 0 ? formatBudgetAmount(use.unit, use.extra) : null,
    inFlight: use.inFlight > 0 ? formatBudgetAmount(use.unit, use.inFlight) : null,
    value: Math.min(use.used, max),
    max,
    percent: use.percent,
    state: share >= 1 ? 'over' : share >= warnAt ? 'near' : 'ok',
    resetsAt: use.resetsAt,
    source: use.source,
  };
}

export interface BudgetsView {
  warnAtPercent: number;
  rows: BudgetRowView[];
  near: BudgetRowView[];
  /** identities with a budget of their own near or over, worst first */
  people: Array<{ identity: string; label: string; href: string | null; state: 'near' | 'over'; worst: number }>;
  roles: Array<{ role: string; period: BudgetPeriod; unit: BudgetUnit; limit: string; source: string }>;
  grants: Array<{ identity: string; href: string | null; amount: string; expiresAt: string; by: string }>;
  warnings: Array<{ label: string; period: string; warnedAt: string }>;
}

/** Display names from the users table, by identity. */
export async function userNames(db: Db, identities: readonly string[]): Promise<Map<string, string>> {
  return displayNames(db, identities.map((i) => parseUserKey(i)?.userId ?? i));
}

/** A warning's `<scope key>|<period>|<unit>` as a person reads it. */
function warningLabel(budget: string, byKey: ReadonlyMap<string, string>): string {
  const parts = budget.split('|');
  if (parts.length < 3) return budget;
  const unit = parts.pop()!;
  const period = parts.pop()!;
  const key = parts.join('|');
  const who = byKey.get(key) ?? (key === 'global' ? 'Everyone (global)' : key.startsWith('user:') ? key.slice(5) : key.replace(':', ' '));
  return `${who} — ${period} ${unit}`;
}

/** Every limit set for a role, in config or at run time (each member's own budget). */
function roleLimits(service: BudgetService): BudgetsView['roles'] {
  const rules = service.limitRules;
  const names = new Set([...Object.keys(service.config.roles), ...[...rules.runtime.keys()].filter((k) => k.startsWith('role|')).map((k) => k.split('|')[1]!)]);
  const rows: BudgetsView['roles'] = [];
  for (const role of [...names].sort()) {
    for (const period of BUDGET_PERIODS) {
      for (const unit of BUDGET_UNITS) {
        const slot = rules.slot('role', role, period, unit);
        if (!slot) continue;
        rows.push({ role, period, unit, limit: slot.limit === null ? 'none (lifted)' : formatBudgetAmount(unit, slot.limit), source: slot.source });
      }
    }
  }
  return rows;
}

export async function budgetsView(db: Db, service: BudgetService, overview: BudgetOverview): Promise<BudgetsView> {
  const identities = [...overview.budgets.filter((b) => b.level === 'user').map((b) => b.target), ...overview.grants.map((g) => g.identity)];
  const names = await userNames(db, identities);
  const rows = overview.budgets.map((u) => rowOf(u, overview.warnAt, names));
  const near = overview.nearOrOver.map((u) => rowOf(u, overview.warnAt, names));
  const byKey = new Map(overview.budgets.map((b) => [b.key, whoLabel(b.level, b.target, names)]));
  return {
    warnAtPercent: Math.round(overview.warnAt * 100),
    rows,
    near,
    people: overview.identities.map((p) => ({
      identity: p.identity,
      label: whoLabel('user', p.identity, names),
      href: userUsageHref(p.identity),
      state: p.state,
      worst: Math.max(...p.budgets.map((b) => b.percent)),
    })),
    roles: roleLimits(service),
    grants: overview.grants.map((g) => ({
      identity: whoLabel('user', g.identity, names),
      href: userUsageHref(g.identity),
      amount: formatBudgetAmount(g.unit as BudgetUnit, g.amount),
      expiresAt: g.expires_at,
      by: g.granted_by ?? '',
    })),
    warnings: overview.warnings.map((w) => ({ label: warningLabel(w.budget, byKey), period: w.period, warnedAt: w.warnedAt })),
  };
}

/** The line shown after a limit changed. */
export function limitMessage(change: Omit<LimitChange, 'at' | 'by'>, fallback: number | null | undefined): string {
  const who = { global: 'everyone (global)', platform: `the ${change.target} platform`, experience: `the ${change.target} Experience`, role: `each member of @${change.target}`, user: change.target }[change.scope];
  const slot = `The ${change.period} ${change.unit} limit for ${who}`;
  if (change.amount === undefined) return `${slot} is back to the config file’s: ${fallback != null ? formatBudgetAmount(change.unit, fallback) : 'none'}.`;
  if (change.amount === null) return `${slot} is lifted, whatever the config file says.`;
  return `${slot} is now ${formatBudgetAmount(change.unit, change.amount)}.`;
}
