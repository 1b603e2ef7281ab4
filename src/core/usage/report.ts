import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db/open.js';
import { addUtcDays } from '../format/utc.js';
import { checkRange, daysOf, type UsageFilter, type UsageRange } from './range.js';
import { usersByIds } from '../users/repository.js';

/**
 * Aggregations for the usage page, read from the rollup tables the usage_events triggers keep
 * (migration 2026-11-22T0110), and the raw rows as CSV. A range is whole UTC days, [from, to).
 * Each part of the page reads the smallest rollup that can answer it for the filter (`plan`);
 * long ranges read whole months from the monthly rollups and only their ragged ends from the
 * daily ones, so a year costs about what a month does. The raw ledger is read only for
 * `fromRawEvents`, the plain GROUP BY baseline the rollups are checked against (and by csv.ts).
 */

export interface UsageFigures {
  events: number;
  chatTurns: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
}

export interface UsageDayModel extends UsageFigures {
  day: string;
  model: string;
}

export interface UsageReport {
  range: UsageRange;
  filter: UsageFilter;
  /** every day of the range, in order */
  days: string[];
  totals: UsageFigures;
  /** non-empty (day, model) cells, by day then model */
  perDay: UsageDayModel[];
  /** by tokens, most first */
  byModel: Array<UsageFigures & { model: string }>;
  /** by cost then tokens, most first; experienceId null = none; name null when the Experience is gone */
  byExperience: Array<UsageFigures & { experienceId: number | null; name: string | null }>;
  byPlatform: Array<UsageFigures & { platform: string | null }>;
  /** the top users by cost then tokens; `userCount` says how many there were in all */
  byUser: Array<UsageFigures & { platform: string | null; userId: string | null; name: string | null }>;
  userCount: number;
}

type Key = 'day' | 'model' | 'experience' | 'platform' | 'user';

interface Source {
  table: string;
  /** the column a range applies to, and how a day bound reads against it */
  period: RawBuilder<unknown>;
  bound: (day: string) => string;
  keys: Partial<Record<Key, RawBuilder<unknown>>>;
  /** on the raw ledger: the plain column per key, so a filter can use its index (NULL, not '' or 0) */
  columns?: Partial<Record<Key, string>>;
  measures: RawBuilder<unknown>;
  /** a daily rollup's rows are already one per combination of all its keys: no GROUP BY needed for them */
  rowPerKeys?: boolean;
}

const ROLLUP_MEASURES = sql`sum(events) AS events, sum(chat_turns) AS chat_turns, sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out, sum(cost_usd) AS cost_usd`;
const ROLLUP_COLUMNS = sql`events, chat_turns, tokens_in, tokens_out, cost_usd`;

const rollup = (table: string, grain: 'day' | 'month', keys: Source['keys']): Source => ({
  table,
  period: sql.ref(grain),
  bound: (day) => (grain === 'day' ? day : day.slice(0, 7)),
  keys,
  measures: ROLLUP_MEASURES,
  rowPerKeys: grain === 'day',
});

const CUBE_KEYS = { model: sql.ref('model'), experience: sql.ref('experience_id'), platform: sql.ref('platform') };
const USER_KEYS = { platform: sql.ref('platform'), user: sql.ref('user_id') };

const SOURCES = {
  dayModel: rollup('usage_day_model', 'day', { day: sql.ref('day'), model: sql.ref('model') }),
  cubeDaily: rollup('usage_daily', 'day', { day: sql.ref('day'), ...CUBE_KEYS }),
  cubeMonthly: rollup('usage_monthly', 'month', CUBE_KEYS),
  userDaily: rollup('usage_user_daily', 'day', USER_KEYS),
  userMonthly: rollup('usage_user_monthly', 'month', USER_KEYS),
  userDetail: rollup('usage_user_detail', 'day', { day: sql.ref('day'), ...CUBE_KEYS, ...USER_KEYS }),
  userDetailMonthly: rollup('usage_user_detail_monthly', 'month', { ...CUBE_KEYS, ...USER_KEYS }),
  events: {
    table: 'usage_events',
    period: sql.ref('created_at'),
    // ISO timestamps sort as text: '2026-03-01T…' >= '2026-03-01' and < '2026-03-02'
    bound: (day: string) => day,
    keys: {
      day: sql`substr(created_at, 1, 10)`,
      model: sql.ref('model'),
      experience: sql`coalesce(experience_id, 0)`,
      platform: sql`coalesce(platform, '')`,
      user: sql`coalesce(user_id, '')`,
    },
    columns: { model: 'model', experience: 'experience_id', platform: 'platform', user: 'user_id' },
    measures: sql`count(*) AS events, sum(CASE WHEN purpose = 'chat' THEN 1 ELSE 0 END) AS chat_turns, sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out, sum(cost_usd) AS cost_usd`,
  } satisfies Source,
};

interface Plan {
  perDay: Source;
  /** sources for whole months and for single days; the same source when it has no monthly form */
  cube: [daily: Source, monthly: Source];
  users: [daily: Source, monthly: Source];
}

/** Which tables answer which part of the page, for a filter. */
function plan(filter: UsageFilter, fromRawEvents: boolean): Plan {
  const { events, userDetail, userDetailMonthly } = SOURCES;
  if (fromRawEvents) return { perDay: events, cube: [events, events], users: [events, events] };
  // one user's rows are few, and the detail rollups are indexed by user
  const detail: Plan['users'] = [userDetail, userDetailMonthly];
  if (filter.userId !== undefined) return { perDay: userDetail, cube: detail, users: detail };
  const cube: Plan['cube'] = [SOURCES.cubeDaily, SOURCES.cubeMonthly];
  // the per-user rollups know only the platform
  const users: Plan['users'] = filter.experienceId === undefined && filter.model === undefined ? [SOURCES.userDaily, SOURCES.userMonthly] : detail;
  const perDay = filter.platform === undefined && filter.experienceId === undefined ? SOURCES.dayModel : SOURCES.cubeDaily;
  return { perDay, cube, users };
}

interface GroupRow {
  day?: string;
  model?: string;
  experience?: number;
  platform?: string;
  user?: string;
  events: number;
  chat_turns: number;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
}

function filterClauses(source: Source, filter: UsageFilter): Array<RawBuilder<unknown>> {
  const clauses: Array<RawBuilder<unknown>> = [];
  const add = (key: Key, value: string | number | undefined): void => {
    if (value === undefined) return;
    const plain = source.columns?.[key];
    if (plain !== undefined) {
      clauses.push(value === '' || value === 0 ? sql`${sql.ref(plain)} IS NULL` : sql`${sql.ref(plain)} = ${value}`);
      return;
    }
    const column = source.keys[key];
    if (!column) throw new Error(`${source.table} cannot filter by ${key}`);
    clauses.push(sql`${column} = ${value}`);
  };
  add('platform', filter.platform);
  add('experience', filter.experienceId);
  add('model', filter.model);
  add('user', filter.userId);
  return clauses;
}

async function grouped(db: Db, source: Source, from: string, to: string, keys: Key[], filter: UsageFilter): Promise<GroupRow[]> {
  const where = [sql`${source.period} >= ${source.bound(from)}`, sql`${source.period} < ${source.bound(to)}`, ...filterClauses(source, filter)];
  const selected = keys.map((key) => sql`${source.keys[key]!} AS ${sql.ref(key)}`);
  // asking a daily rollup for all of its keys: its rows are the groups already
  const asStored = source.rowPerKeys === true && keys.length === Object.keys(source.keys).length;
  const grouping = keys.length && !asStored ? sql` GROUP BY ${sql.join(keys.map((_, i) => sql.raw(String(i + 1))))}` : sql``;
  const query = sql<GroupRow>`SELECT ${sql.join([...selected, asStored ? ROLLUP_COLUMNS : source.measures])} FROM ${sql.table(source.table)}
    WHERE ${sql.join(where, sql` AND `)}${grouping}`;
  return (await query.execute(db)).rows;
}

const monthStart = (day: string): string => `${day.slice(0, 7)}-01`;
const nextMonth = (day: string): string => monthStart(addUtcDays(`${day.slice(0, 7)}-28`, 4));

/** Whether the ledger has any event in [from, to): one indexed probe of the smallest rollup. */
async function anyUsage(db: Db, from: string, to: string): Promise<boolean> {
  if (from >= to) return false;
  const row = await db.selectFrom('usage_day_model').select('day').where('day', '>=', from).where('day', '<', to).limit(1).executeTakeFirst();
  return row !== undefined;
}

interface Spans {
  /** whole months [first day, first day of the month after], read from a monthly rollup */
  months: [string, string] | null;
  /** the days left over, read from a daily rollup */
  days: Array<[string, string]>;
}

/**
 * The months the monthly rollups can answer for, and the days the daily ones must. A month at
 * either end counts as whole when the part of it outside the range holds no usage at all, so
 * "the last 30 days" reads the current month from the monthly rollup: nothing is after today.
 */
async function spans(db: Db, range: UsageRange): Promise<Spans> {
  const first = monthStart(range.from);
  const last = monthStart(addUtcDays(range.to, -1));
  const end = nextMonth(last);
  const [startWhole, endWhole] = await Promise.all([
    range.from === first ? true : anyUsage(db, first, range.from).then((any) => !any),
    range.to === end ? true : anyUsage(db, range.to, end).then((any) => !any),
  ]);
  if (first === last) return startWhole && endWhole ? { months: [first, end], days: [] } : { months: null, days: [[range.from, range.to]] };
  const days: Array<[string, string]> = [];
  if (!startWhole) days.push([range.from, nextMonth(first)]);
  if (!endWhole) days.push([last, range.to]);
  const months: [string, string] = [startWhole ? first : nextMonth(first), endWhole ? end : last];
  return { months: months[0] < months[1] ? months : null, days };
}

/** The same grouping over monthly rollups for whole months and daily ones for the rest. */
async function groupedSplit(db: Db, daily: Source, monthly: Source, range: UsageRange, split: () => Promise<Spans>, keys: Key[], filter: UsageFilter): Promise<GroupRow[]> {
  if (daily === monthly) return grouped(db, daily, range.from, range.to, keys, filter);
  const { months, days } = await split();
  const parts = await Promise.all([
    ...(months ? [grouped(db, monthly, months[0], months[1], keys, filter)] : []),
    ...days.map(([from, to]) => grouped(db, daily, from, to, keys, filter)),
  ]);
  return parts.length === 1 ? parts[0]! : merge(parts.flat(), keys);
}

// ---- figures ----

const zero = (): UsageFigures => ({ events: 0, chatTurns: 0, tokensIn: 0, tokensOut: 0, costUsd: 0 });

function addTo(target: UsageFigures, row: GroupRow): void {
  target.events += Number(row.events);
  target.chatTurns += Number(row.chat_turns);
  target.tokensIn += Number(row.tokens_in);
  target.tokensOut += Number(row.tokens_out);
  target.costUsd += Number(row.cost_usd);
}

function figuresOf(row: GroupRow): UsageFigures {
  const figures = zero();
  addTo(figures, row);
  return figures;
}

function merge(rows: GroupRow[], keys: Key[]): GroupRow[] {
  const merged = new Map<string, GroupRow>();
  for (const row of rows) {
    const id = keys.map((k) => row[k]).join('\u0000');
    const into = merged.get(id);
    if (!into) {
      merged.set(id, { ...row });
      continue;
    }
    into.events += Number(row.events);
    into.chat_turns += Number(row.chat_turns);
    into.tokens_in += Number(row.tokens_in);
    into.tokens_out += Number(row.tokens_out);
    into.cost_usd += Number(row.cost_usd);
  }
  return [...merged.values()];
}

/** Sums rows by one key. */
function sumBy<K>(rows: GroupRow[], keyOf: (row: GroupRow) => K): Map<K, UsageFigures> {
  const sums = new Map<K, UsageFigures>();
  for (const row of rows) {
    const key = keyOf(row);
    let figures = sums.get(key);
    if (!figures) sums.set(key, (figures = zero()));
    addTo(figures, row);
  }
  return sums;
}

/** Cost to a millionth of a cent, so float sums of many rows print as their exact total would. */
function tidy<T extends UsageFigures>(figures: T): T {
  figures.costUsd = Math.round(figures.costUsd * 1e8) / 1e8;
  return figures;
}

const byCost = (a: UsageFigures, b: UsageFigures): number => b.costUsd - a.costUsd || b.tokensIn + b.tokensOut - (a.tokensIn + a.tokensOut);
const byTokens = (a: UsageFigures, b: UsageFigures): number => b.tokensIn + b.tokensOut - (a.tokensIn + a.tokensOut) || b.costUsd - a.costUsd;

export interface UsageReportOptions {
  /** how many users the by-user table lists (default 25) */
  topUsers?: number;
  /** read usage_events with plain GROUP BYs instead of the rollups (the baseline, and a cross-check) */
  fromRawEvents?: boolean;
}

export async function usageReport(db: Db, range: UsageRange, filter: UsageFilter = {}, options: UsageReportOptions = {}): Promise<UsageReport> {
  checkRange(range);
  const topUsers = options.topUsers ?? 25;
  const sources = plan(filter, options.fromRawEvents === true);
  let split: Promise<Spans> | undefined;
  const once = (): Promise<Spans> => (split ??= spans(db, range));
  const [perDayRows, cubeRows, userRows] = await Promise.all([
    grouped(db, sources.perDay, range.from, range.to, ['day', 'model'], filter),
    groupedSplit(db, ...sources.cube, range, once, ['model', 'experience', 'platform'], filter),
    groupedSplit(db, ...sources.users, range, once, ['platform', 'user'], filter),
  ]);

  const totals = tidy(sumBy(cubeRows, () => 'all').get('all') ?? zero());
  const byModel = [...sumBy(cubeRows, (r) => r.model!)].map(([model, f]) => tidy({ model, ...f })).sort(byTokens);
  const experienceSums = [...sumBy(cubeRows, (r) => Number(r.experience))];
  const byPlatform = [...sumBy(cubeRows, (r) => r.platform!)].map(([platform, f]) => tidy({ platform: platform || null, ...f })).sort(byCost);
  const users = [...sumBy(userRows, (r) => `${r.platform}\u0000${r.user}`)].map(([id, f]) => {
    const [platform, userId] = id.split('\u0000') as [string, string];
    return tidy({ platform: platform || null, userId: userId || null, name: null as string | null, ...f });
  });
  users.sort(byCost);
  const byUser = users.slice(0, topUsers);

  const experienceIds = experienceSums.map(([id]) => id).filter((id) => id > 0);
  const [experiences, people] = await Promise.all([
    experienceIds.length ? db.selectFrom('experiences').select(['id', 'name']).where('id', 'in', experienceIds).execute() : [],
    usersByIds(db, byUser.flatMap((u) => (u.userId ? [u.userId] : []))),
  ]);
  const experienceNames = new Map(experiences.map((e) => [e.id, e.name]));
  for (const user of byUser) user.name = people.find((p) => p.platform === user.platform && p.userId === user.userId)?.name ?? null;

  return {
    range,
    filter,
    days: daysOf(range),
    totals,
    perDay: perDayRows
      .map((r) => tidy({ day: r.day!, model: r.model!, ...figuresOf(r) }))
      .sort((a, b) => a.day.localeCompare(b.day) || a.model.localeCompare(b.model)),
    byModel,
    byExperience: experienceSums
      .map(([id, f]) => tidy({ experienceId: id > 0 ? id : null, name: id > 0 ? (experienceNames.get(id) ?? null) : null, ...f }))
      .sort(byCost),
    byPlatform,
    byUser,
    userCount: users.length,
  };
}

/** What the filter choices can be: the platforms and models seen in the ledger. */
export async function usageDimensions(db: Db): Promise<{ platforms: string[]; models: string[] }> {
  const [platforms, models] = await Promise.all([
    db.selectFrom('usage_monthly').select('platform').distinct().orderBy('platform').execute(),
    db.selectFrom('usage_monthly').select('model').distinct().orderBy('model').execute(),
  ]);
  return { platforms: platforms.map((p) => p.platform).filter((p) => p !== ''), models: models.map((m) => m.model) };
}

// ---- CSV ----
