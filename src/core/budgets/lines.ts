import { formatCount, formatUsd } from '../format/figures.js';
import { formatReset, periodPhrase, windowOf } from './periods.js';
import type { Budget, BudgetUnit, BudgetUse } from './rules.js';

/** What a chat user reads about budgets: one line each, naming the budget, the figures and the reset. */

export function formatAmount(unit: BudgetUnit, value: number): string {
  return unit === 'usd' ? formatUsd(value) : `${formatCount(value)} tokens`;
}

/** `41,200 of 40,000 tokens`, `$4.12 of $4.00` */
function ofLimit(unit: BudgetUnit, used: number, limit: number): string {
  return unit === 'usd' ? `${formatUsd(used)} of ${formatUsd(limit)}` : `${formatCount(used)} of ${formatAmount('tokens', limit)}`;
}

/**
 * `Your daily budget`, `The discord platform's monthly budget`, `The homelab Experience's …`,
 * `The team's …`; an admin looking at someone else reads `discord:81234's daily budget`.
 */
export function budgetName(budget: Pick<Budget, 'level' | 'target' | 'period'>, yours = true): string {
  const owner = {
    user: yours ? 'Your' : `${budget.target}'s`,
    platform: `The ${budget.target} platform's`,
    experience: `The ${budget.target} Experience's`,
    global: "The team's",
  }[budget.level];
  return `${owner} ${budget.period} budget`;
}

function allowance(use: BudgetUse): number {
  return use.limit + use.extra;
}

function resets(use: BudgetUse, now: Date): string {
  return `It resets ${formatReset(windowOf(use.period, now), now)}.`;
}

/** The one line a refused turn gets; `need` is what this answer could cost when that is the reason. */
export function refusalLine(use: BudgetUse, now: Date, need: number | null): string {
  const figures = `${ofLimit(use.unit, use.used, allowance(use))} ${periodPhrase(use.period)}`;
  const held = use.inFlight > 0 ? `${formatAmount(use.unit, use.inFlight)} more held by answers being written` : '';
  if (need === null || use.used >= allowance(use)) {
    return `${budgetName(use)} is used up: ${figures}${held ? `, and ${held}` : ''}. ${resets(use, now)}`;
  }
  const used = `${ofLimit(use.unit, use.used, allowance(use))} used ${periodPhrase(use.period)}`;
  return `${budgetName(use)} has too little left for another answer: ${used}${held ? `, ${held}` : ''}, and an answer here may need up to ${formatAmount(use.unit, need)}. ${resets(use, now)}`;
}

/** Given once per budget and period, under the answer that crossed the warning share. */
export function warningLine(use: BudgetUse, now: Date): string {
  return `⚠ ${budgetName(use)} is ${Math.floor(use.percent)}% used: ${ofLimit(use.unit, use.used, allowance(use))} ${periodPhrase(use.period)}. ${resets(use, now)}`;
}

/** Under an answer the Experience's cheaper model gave because a budget is nearly spent. */
export function cheaperRouteLine(use: BudgetUse, cheaperModel: string, usualModel: string): string {
  const state = use.used + use.inFlight >= allowance(use) ? 'is used up' : `is ${Math.floor(use.percent)}% used`;
  return `↓ ${budgetName(use)} ${state}, so ${cheaperModel} answered instead of ${usualModel}.`;
}

/** For `usage` and `budget`: spend, what is left, and when it resets. */
export function statusLine(use: BudgetUse, now: Date, yours = true): string {
  const left = Math.max(0, allowance(use) - use.used);
  const extra = use.extra > 0 ? ` (with ${formatAmount(use.unit, use.extra)} extra)` : '';
  return `${budgetName(use, yours)}: ${ofLimit(use.unit, use.used, allowance(use))} used ${periodPhrase(use.period)}${extra}, ${formatAmount(use.unit, left)} left; resets ${formatReset(windowOf(use.period, now), now)}`;
}
