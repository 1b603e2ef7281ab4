import { ThreadloomError } from '../errors.js';
import { userKey } from '../identity.js';
import type { ModelChoice } from '../providers/model-choice.js';
import { share, type BudgetBook, type BudgetExperience, type BudgetIdentity } from './book.js';
import { cheaperRouteLine, refusalLine, warningLine } from './lines.js';
import type { Budget, BudgetUse } from './rules.js';
import { markWarned, warnedIn } from './store.js';
import type { Spend } from './totals.js';

/** A turn refused before anything reached a provider; `userMessage` names the budget, the figures and the reset. */
export class BudgetExceededError extends ThreadloomError {
  constructor(
    readonly use: BudgetUse,
    /** what this answer could have cost, when that (not the spend so far) was the reason */
    readonly need: number | null,
    userMessage: string,
  ) {
    super('rate_limited', `budget ${use.key} ${use.period} ${use.unit}: ${use.used} used + ${use.inFlight} in flight${need === null ? '' : ` + ${need} needed`} > ${use.limit + use.extra}`, { userMessage });
    this.name = 'BudgetExceededError';
  }
}

function refusal(use: BudgetUse, now: Date, need: number | null): BudgetExceededError {
  return new BudgetExceededError(use, need, refusalLine(use, now, need));
}

/** The 80% warnings: each budget is warned about once per period, here or before a restart. */
export class BudgetWarnings {
  private readonly warned = new Map<string, Promise<Set<string>>>();

  constructor(private readonly book: BudgetBook) {}

  /** True the first time a budget reaches the warning share in its period. */
  async claim(use: BudgetUse): Promise<boolean> {
    const { db } = this.book.options;
    let pending = this.warned.get(use.periodId);
    if (!pending) {
      pending = warnedIn(db, use.periodId);
      this.warned.set(use.periodId, pending);
    }
    const given = await pending;
    const budget = `${use.key}|${use.period}|${use.unit}`;
    if (given.has(budget)) return false;
    given.add(budget);
    await markWarned(db, budget, use.periodId, this.book.now());
    return true;
  }
}

/**
 * Before anything reaches a provider: refuses a turn whose budget is spent, or sends it to the
 * Experience's cheaper model when a budget is nearly spent. Null when no budget applies.
 */
export async function planTurn(
  book: BudgetBook,
  warnings: BudgetWarnings,
  user: BudgetIdentity,
  experience: BudgetExperience & { params: { maxTokens: number | null } },
  choice: ModelChoice,
): Promise<TurnBudget | null> {
  const budgets = await book.budgetsFor(user, experience);
  if (!budgets.length) return null;
  const now = book.now();
  await book.ensure(budgets, now);
  const identity = userKey(user.platform, user.id);
  const extra = book.extraFor(identity, now);
  const usesFor = (modelId: string) => book.relevant(budgets, modelId).map((b) => book.use(b, extra, now));

  let chosen = choice;
  let notice: string | null = null;
  const route = book.config.experiences[experience.slug];
  if (route?.cheaperModel && route.cheaperModel !== choice.modelId) {
    const tightest = usesFor(choice.modelId).sort((a, b) => share(b, true) - share(a, true))[0];
    if (tightest && share(tightest, true) >= route.cheaperAt) {
      chosen = { ...choice, modelId: route.cheaperModel, candidates: [route.cheaperModel] };
      notice = cheaperRouteLine(tightest, route.cheaperModel, choice.modelId);
    }
  }
  const spent = usesFor(chosen.modelId).find((u) => share(u, true) >= 1);
  if (spent) throw refusal(spent, now, null);
  const answerTokens = experience.params.maxTokens ?? book.options.config.context.reservedAnswerTokens;
  return new TurnBudget(book, warnings, identity, book.relevant(budgets, chosen.modelId), chosen, notice, answerTokens);
}

/**
 * One turn's dealings with its budgets: the model it may use, the hold on what its answer may
 * cost, and the lines to show under the answer.
 */
export class TurnBudget {
  private releaseHold: (() => Promise<void>) | null = null;

  constructor(
    private readonly book: BudgetBook,
    private readonly warnings: BudgetWarnings,
    private readonly identity: string,
    /** the budgets this turn's model is checked against */
    private readonly budgets: readonly Budget[],
    /** the model to use: the chosen one, or the Experience's cheaper one */
    readonly choice: ModelChoice,
    /** set when the cheaper model answers instead: says so under the answer */
    readonly notice: string | null,
    private readonly answerTokens: number,
  ) {}

  /**
   * Holds the prompt plus the longest answer, priced at the model's rate, against every budget;
   * refuses when one cannot take it on top of what is spent and what other answers hold.
   */
  async reserve(promptTokens: number): Promise<void> {
    const { book } = this;
    const now = book.now();
    await book.ensure(this.budgets, now);
    const usd = book.options.prices.cost(this.choice.modelId, { inputTokens: promptTokens, outputTokens: this.answerTokens });
    const need: Spend = { tokens: promptTokens + this.answerTokens, usd };
    // checked and held at once: turns running at once (on any instance) each see the others' holds
    const extra = book.extraFor(this.identity, now);
    // this turn's earlier hold (a round before its tools ran) is gone before the check counts holds
    const previous = this.releaseHold;
    this.releaseHold = null;
    await previous?.();
    this.releaseHold = await book.reserve(this.budgets, now, need, () => {
      for (const budget of this.budgets) {
        const use = book.use(budget, extra, now);
        if (use.used + use.inFlight + need[use.unit] > use.limit + use.extra) throw refusal(use, now, need[use.unit]);
      }
    });
  }

  /** After the usage is recorded: the cheaper-model line and any first warnings of this period. */
  async notes(): Promise<string[]> {
    const { book } = this;
    const now = book.now();
    await book.ensure(this.budgets, now);
    const extra = book.extraFor(this.identity, now);
    const lines = this.notice ? [this.notice] : [];
    for (const budget of this.budgets) {
      const use = book.use(budget, extra, now);
      if (share(use, false) >= book.config.warnAt && (await this.warnings.claim(use))) lines.push(warningLine(use, now));
    }
    return lines;
  }

  /** Lets go of the hold; the recorded usage has taken its place. */
  release(): void {
    void this.releaseHold?.();
    this.releaseHold = null;
  }
}
