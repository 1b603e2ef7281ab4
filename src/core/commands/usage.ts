import { formatCount, formatUsd } from '../format/figures.js';
import { startOfUtcDay, startOfUtcMonth } from '../format/utc.js';
import { usageSince } from '../usage/ledger.js';
import { budgetStatusLines } from './budget.js';
import type { CommandSpec } from './types.js';

export const USAGE: CommandSpec = {
  name: 'usage',
  usage: 'usage',
  summary: 'your turns, tokens and cost today and this month, and the budget left',
  private: true,
  async run(ctx) {
    const { deps } = ctx;
    const now = deps.now();
    const day = startOfUtcDay(now);
    const month = startOfUtcMonth(now);
    const who = { platform: ctx.inbound.platform, userId: ctx.inbound.author.id };
    const [today, thisMonth] = await Promise.all([usageSince(deps.db, day, who), usageSince(deps.db, month, who)]);
    const line = (label: string, t: typeof today) =>
      `${label}: ${t.turns} turns, ${formatCount(t.tokensIn)} tokens in / ${formatCount(t.tokensOut)} out, ${formatUsd(t.costUsd)}`;
    const budgets = await budgetStatusLines(ctx, { platform: who.platform, id: who.userId }, true);
    await ctx.say([line('Today (UTC)', today), line('This month', thisMonth), ...(budgets.length ? ['Budgets:', ...budgets] : [])].join('\n'));
  },
};
