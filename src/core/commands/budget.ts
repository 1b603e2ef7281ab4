import { formatAmount, statusLine } from '../budgets/lines.js';
import { BUDGET_PERIODS, type BudgetPeriod } from '../budgets/periods.js';
import { BUDGET_UNITS, type BudgetUnit, type LimitScope } from '../budgets/rules.js';
import { slugSchema } from '../experiences/schema.js';
import { experienceForChannel } from '../turns/places.js';
import { UsageError, type CommandContext, type CommandSpec } from './types.js';
import { authorKey, parseUserKey, userKey } from '../identity.js';

const WHO = 'platform:userId, @role, global, platform:<name> or experience:<slug>';
/** An override longer than a month is a limit: use `budget set`. */
const MAX_OVERRIDE_HOURS = 31 * 24;

/** The budget lines of one identity in this place's Experience, daily ones first; empty when none apply. */
export async function budgetStatusLines(ctx: CommandContext, who: { platform: string; id: string }, yours: boolean): Promise<string[]> {
  const { deps } = ctx;
  if (!deps.budgets) return [];
  const conversation = await ctx.existingConversation();
  const experience = conversation ? await deps.experiences.getById(conversation.experience_id) : await experienceForChannel(deps, ctx.inbound.platform, ctx.inbound.channelId);
  const uses = await deps.budgets.statusFor(who, experience);
  const now = deps.now();
  return BUDGET_PERIODS.flatMap((period) => uses.filter((u) => u.period === period)).map((u) => `• ${statusLine(u, now, yours)}`);
}

function parseTarget(text: string | undefined): { scope: LimitScope; target: string } {
  if (text === 'global') return { scope: 'global', target: '' };
  if (text && /^@[a-z0-9][a-z0-9_-]*$/.test(text)) return { scope: 'role', target: text.slice(1) };
  const identity = text ? parseUserKey(text) : null;
  if (!identity) throw new UsageError(`Say whose limit: ${WHO}.`);
  if (identity.platform === 'platform') return { scope: 'platform', target: identity.userId };
  if (identity.platform === 'experience') {
    if (!slugSchema.safeParse(identity.userId).success) throw new UsageError(`"${identity.userId}" is not an Experience slug.`);
    return { scope: 'experience', target: identity.userId };
  }
  return { scope: 'user', target: text! };
}

function parseUnit(text: string | undefined): BudgetUnit {
  if (!BUDGET_UNITS.includes(text as BudgetUnit)) throw new UsageError('The unit is `tokens` or `usd`.');
  return text as BudgetUnit;
}

/** `40000`, `40,000`, `40k`, `1.5m` tokens; `5`, `$5`, `2.50` dollars. */
function parseAmount(unit: BudgetUnit, text: string | undefined): number {
  const match = /^\$?(\d[\d,_]*(?:\.\d+)?)([km]?)$/i.exec(text ?? '');
  const value = match ? Number(match[1]!.replace(/[,_]/g, '')) * ({ '': 1, k: 1e3, m: 1e6 }[match[2]!.toLowerCase()] ?? 1) : NaN;
  if (!(value > 0)) throw new UsageError(`"${text ?? ''}" is not an amount: use a number above 0${unit === 'usd' ? ' (dollars)' : ' (tokens)'}.`);
  return unit === 'tokens' ? Math.round(value) : value;
}

function describe(scope: LimitScope, target: string): string {
  return { global: 'the team', platform: `the ${target} platform`, experience: `the ${target} Experience`, role: `each member of @${target}`, user: target }[scope];
}

function capitalized(period: string): string {
  return `${period[0]!.toUpperCase()}${period.slice(1)}`;
}

async function show(ctx: CommandContext): Promise<void> {
  const asked = ctx.args[0];
  const identity = asked ? parseUserKey(asked) : { platform: ctx.inbound.platform, userId: ctx.inbound.author.id };
  if (!identity) throw new UsageError(`"${asked}" is not an identity such as discord:81234.`);
  const name = userKey(identity.platform, identity.userId);
  const yours = !asked || name === authorKey(ctx.inbound);
  const lines = await budgetStatusLines(ctx, { platform: identity.platform, id: identity.userId }, yours);
  const grants = ctx.deps.budgets?.grantsOf(name) ?? [];
  for (const g of grants) lines.push(`Override: ${formatAmount(g.unit as BudgetUnit, g.amount)} extra on every limit until ${g.expires_at.slice(0, 16).replace('T', ' ')} UTC.`);
  await ctx.say(lines.length ? [`Budgets for ${name} (UTC periods):`, ...lines].join('\n') : `No budget applies to ${name} here.`);
}

async function set(ctx: CommandContext): Promise<void> {
  const [, who, period, unitText, amountText] = ctx.args;
  const { scope, target } = parseTarget(who);
  if (!BUDGET_PERIODS.includes(period as BudgetPeriod)) throw new UsageError('The period is `daily` or `monthly`.');
  const unit = parseUnit(unitText);
  const amount = amountText === 'none' ? null : amountText === 'default' ? undefined : parseAmount(unit, amountText);
  const budgets = ctx.deps.budgets!;
  if (scope === 'experience' && !(await ctx.deps.experiences.get(target))) throw new UsageError(`There is no Experience "${target}".`);
  await budgets.setLimit({ scope, target, period: period as BudgetPeriod, unit, amount, by: authorKey(ctx.inbound) });
  const slot = `${capitalized(period!)} ${unit} limit for ${describe(scope, target)}`;
  if (amount === undefined) {
    const fallback = budgets.limitRules.slot(scope, target, period as BudgetPeriod, unit);
    await ctx.say(`${slot} is back to the config file's: ${fallback?.limit != null ? formatAmount(unit, fallback.limit) : 'none'}.`);
  } else if (amount === null) {
    await ctx.say(`${slot} is lifted, whatever the config file says.`);
  } else {
    await ctx.say(`${capitalized(period!)} limit for ${describe(scope, target)} is now ${formatAmount(unit, amount)}.`);
  }
}

async function override(ctx: CommandContext): Promise<void> {
  const [, who, unitText, amountText, word, duration] = ctx.args;
  const { scope, target } = parseTarget(who);
  if (scope !== 'user') throw new UsageError('An override is for one person: platform:userId.');
  const unit = parseUnit(unitText);
  const amount = parseAmount(unit, amountText);
  const hours = word === 'for' ? Number(/^(\d+(?:\.\d+)?)h$/i.exec(duration ?? '')?.[1] ?? NaN) : NaN;
  if (!(hours > 0 && hours <= MAX_OVERRIDE_HOURS)) throw new UsageError(`Say how long: \`for 24h\` (up to ${MAX_OVERRIDE_HOURS}h).`);
  const grant = await ctx.deps.budgets!.grant(target, unit, amount, hours, authorKey(ctx.inbound));
  await ctx.say(`${target} gets ${formatAmount(unit, amount)} extra on every limit their turns meet until ${grant.expires_at.slice(0, 16).replace('T', ' ')} UTC.`);
}

export const BUDGET: CommandSpec = {
  name: 'budget',
  usage: 'budget [platform:userId] | budget set <who> daily|monthly tokens|usd <n|none|default> | budget override <platform:userId> tokens|usd <n> for <hours>h',
  summary: 'show budgets; set a limit or grant a temporary override',
  admin: true,
  private: true,
  async run(ctx) {
    if (!ctx.deps.budgets) throw new UsageError('Budgets are not running in this process.');
    const sub = ctx.args[0];
    if (sub === 'set') return set(ctx);
    if (sub === 'override') return override(ctx);
    return show(ctx);
  },
};
