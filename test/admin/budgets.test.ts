import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { buildAdminApp } from '../../src/admin/app.js';
import { adminContext } from '../../src/admin/context.js';
import { configSchema } from '../../src/core/config.js';
import type { NewUsageEventRow } from '../../src/core/usage/table.js';
import { recordUsage } from '../../src/core/usage/ledger.js';
import { ADMIN_PASSWORD, cookieFrom, formBody, postLogin } from '../support/admin.js';
import { inbound, RecordingReply } from '../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

/**
 * Budgets on the admin web: the Usage page's section (every budget with its bar, who is near or
 * over, the two forms) and the dashboard's card, over a real migrated SQLite whose spending goes
 * through the real ledger. The runtime and the admin share one clock: 2026-11-22 12:00 UTC.
 */

type BudgetsInput = z.input<typeof configSchema>['budgets'];

const NOW = new Date('2026-11-22T12:00:00.000Z');
const HOSTILE_NAME = '<script>alert(1)</script>';
const HOSTILE_ID = '"><img src=x onerror=alert(1)>';

const BUDGETS: BudgetsInput = {
  global: { monthly: { usd: 50 } },
  platforms: { discord: { daily: { tokens: 200_000 } } },
  experiences: { general: { daily: { tokens: 100_000 } } },
  users: { 'discord:81234': { daily: { tokens: 50_000 } }, 'test:ada': { daily: { tokens: 10_000 } } },
  roles: { user: { daily: { tokens: 20_000 } } },
};

interface Session {
  get(url: string): Promise<LightMyRequestResponse>;
  post(url: string, form: Record<string, string>, options?: { csrf?: string | false; htmx?: boolean }): Promise<LightMyRequestResponse>;
}

let rt: TestRuntime;
let app: FastifyInstance;
let session: Session;

beforeEach(async () => {
  rt = await startTestRuntime({
    now: () => NOW,
    config: (c) => ({
      ...c,
      limits: { ...c.limits, userTurnsPerMinute: 1000 },
      context: { ...c.context, reservedAnswerTokens: 100 },
      budgets: configSchema.shape.budgets.parse(BUDGETS),
    }),
  });
  app = buildAdminApp(adminContext(rt, { now: () => NOW, password: ADMIN_PASSWORD }));
  await app.ready();
  const login = await postLogin(app, ADMIN_PASSWORD);
  const cookie = cookieFrom(login, 'tl_session');
  if (login.statusCode !== 303 || !cookie) throw new Error(`login failed: ${login.statusCode}`);
  const home = await app.inject({ method: 'GET', url: '/', headers: { cookie } });
  const csrf = /"X-CSRF-Token": "([^"]+)"/.exec(home.body)![1]!;
  session = {
    get: (url) => app.inject({ method: 'GET', url, headers: { cookie } }),
    post: (url, form, options = {}) => {
      const token = options.csrf === undefined ? csrf : options.csrf;
      const headers: Record<string, string> = { cookie, 'content-type': 'application/x-www-form-urlencoded' };
      if (options.htmx) headers['hx-request'] = 'true';
      return app.inject({ method: 'POST', url, headers, payload: formBody(token === false ? form : { ...form, _csrf: token }) });
    },
  };
});

afterEach(async () => {
  await app.close();
  await rt.shutdown();
});

/** Spending through the real ledger, so the running totals see it as they would a turn's. */
async function spend(platform: string, userId: string, tokens: number, usd = 0, row: Partial<NewUsageEventRow> = {}): Promise<void> {
  await recordUsage(rt.database.db, [
    { platform, user_id: userId, provider: 'openai', model: 'openai/gpt-4o-mini', purpose: 'chat', tokens_in: tokens, tokens_out: 0, estimated: 0, cost_usd: usd, status: 'ok', created_at: NOW.toISOString(), ...row },
  ]);
}

/**
 * discord:81234 (Ada) 85% of her own 50k; discord:555 (a hostile name) 95% and slack:u9 125% of the
 * `user` role's 20k; a hostile matrix id 0.5%; the general Experience 42.5%, discord 30.75%.
 */
async function seed(): Promise<void> {
  const general = await rt.deps.experiences.require('general');
  await rt.database.db
    .insertInto('users')
    .values([
      { platform: 'discord', platform_user_id: '81234', name: 'Ada' },
      { platform: 'discord', platform_user_id: '555', name: HOSTILE_NAME },
    ])
    .execute();
  await spend('discord', '81234', 42_500, 1.25, { experience_id: general.id });
  await spend('discord', '555', 19_000);
  await spend('slack', 'u9', 25_000);
  await spend('matrix', HOSTILE_ID, 100);
}

/** The HTML of one table, by id. */
function table(body: string, id: string): string {
  const start = body.indexOf(`id="${id}"`);
  expect(start, `no #${id}`).toBeGreaterThan(-1);
  return body.slice(start, body.indexOf('</table>', start));
}

/** The `data-budget` ids of a table's rows, in order. */
function budgetIds(html: string): string[] {
  return [...html.matchAll(/<tr data-budget="([^"]+)"/g)].map((m) => m[1]!);
}

/** One row of a table, by its budget id. */
function row(html: string, id: string): string {
  const start = html.indexOf(`<tr data-budget="${id}"`);
  expect(start, `no row ${id}`).toBeGreaterThan(-1);
  return html.slice(start, html.indexOf('</tr>', start));
}

/** The overview's figures that a form could change: limits, allowances and shares. */
async function figures() {
  const overview = await rt.budgets.budgetOverview(NOW);
  return overview.budgets.map((b) => `${b.key}|${b.period}|${b.unit} ${b.limit}+${b.extra} ${b.percent}% ${b.source}`).sort();
}

async function budgetAudit() {
  return rt.database.db.selectFrom('audit_log').select(['actor', 'action', 'target', 'detail']).where('action', 'like', 'budget.%').orderBy('id').execute();
}

const VALID_LIMIT = { who: 'discord:81234', period: 'daily', unit: 'tokens', amount: '100k' };
const VALID_GRANT = { identity: 'discord:555', unit: 'tokens', amount: '10000', hours: '24' };

describe('Usage page: budgets', () => {
  it('should list every budget with used, limit, percent, a progress bar and the reset', async () => {
    await seed();
    const page = await session.get('/usage');
    expect(page.statusCode).toBe(200);
    const all = table(page.body, 'budgets-table');
    expect(budgetIds(all).sort()).toEqual(
      [
        'global|monthly|usd',
        'platform:discord|daily|tokens',
        `experience:${(await rt.deps.experiences.require('general')).id}|daily|tokens`,
        'user:discord:81234|daily|tokens',
        'user:test:ada|daily|tokens',
        'user:discord:555|daily|tokens',
        'user:slack:u9|daily|tokens',
        'user:matrix:&quot;&gt;&lt;img src=x onerror=alert(1)&gt;|daily|tokens',
      ].sort(),
    );

    const ada = row(all, 'user:discord:81234|daily|tokens');
    expect(ada).toContain('>Ada · discord:81234</a>');
    expect(ada).toContain('href="/usage?platform=discord&amp;user=81234"');
    expect(ada).toContain('<td class="num" data-used>42,500 tokens</td>');
    expect(ada).toContain('<td class="num" data-limit>50,000 tokens</td>');
    expect(ada).toMatch(/<progress class="budget-bar budget-near" value="42500" max="50000"[^>]*>/);
    expect(ada).toContain('data-percent>85%</span>');
    expect(ada).toContain('<td>2026-11-23 00:00 UTC</td>');
    expect(ada).toContain('<td>config</td>');

    const team = row(all, 'global|monthly|usd');
    expect(team).toContain('Everyone (global)');
    expect(team).toContain('data-used>$1.25</td>');
    expect(team).toContain('data-limit>$50.00</td>');
    expect(team).toMatch(/<progress class="budget-bar budget-ok" value="1.25" max="50"/);
    expect(team).toContain('data-percent>2.5%<');
    expect(team).toContain('<td>2026-12-01 00:00 UTC</td>');

    expect(row(all, 'platform:discord|daily|tokens')).toContain('data-percent>30.8%<');
    expect(row(all, `experience:${(await rt.deps.experiences.require('general')).id}|daily|tokens`)).toMatch(/Experience general[\s\S]*data-percent>42.5%</);
    const bo = row(all, 'user:discord:555|daily|tokens');
    expect(bo).toContain('<td>config (role user)</td>');
    expect(bo).toContain('data-percent>95%<');
    const over = row(all, 'user:slack:u9|daily|tokens');
    expect(over).toMatch(/<progress class="budget-bar budget-over" value="20000" max="20000"/);
    expect(over).toContain('data-percent>125%<');
    expect(row(all, 'user:test:ada|daily|tokens')).toContain('data-percent>0%<');

    // the role's own limit, and no inline styles anywhere (the CSP forbids them)
    expect(table(page.body, 'budgets-roles')).toContain('<tr data-role="user"><th scope="row">@user</th><td>daily tokens</td><td class="num">20,000 tokens</td><td>config</td></tr>');
    expect(page.body).not.toMatch(/\sstyle=/);
  });

  it('should show what answers in flight hold', async () => {
    await seed();
    const budgets = await rt.budgets.budgetsFor({ platform: 'discord', id: '81234' }, null);
    const release = await rt.budgets.hold(budgets, NOW, { tokens: 1500, usd: 0.02 });
    const held = row(table((await session.get('/usage')).body, 'budgets-table'), 'user:discord:81234|daily|tokens');
    expect(held).toContain('<td class="num" data-in-flight>1,500 tokens</td>');
    await release();
    expect(row(table((await session.get('/usage')).body, 'budgets-table'), 'user:discord:81234|daily|tokens')).toContain('data-in-flight>—</td>');
  });

  it('should list who is near or over, worst first, each linking to their usage', async () => {
    await seed();
    const page = await session.get('/usage');
    const near = table(page.body, 'budgets-near');
    expect(budgetIds(near)).toEqual(['user:slack:u9|daily|tokens', 'user:discord:555|daily|tokens', 'user:discord:81234|daily|tokens']);
    expect([...near.matchAll(/data-state="(\w+)"/g)].map((m) => m[1])).toEqual(['over', 'near', 'near']);
    const people = /<p id="budgets-people">([\s\S]*?)<\/p>/.exec(page.body)![1]!;
    expect([...people.matchAll(/data-identity="([^"]+)"/g)].map((m) => m[1])).toEqual(['slack:u9', 'discord:555', 'discord:81234']);

    const link = /<a href="([^"]+)" data-identity="slack:u9"/.exec(people)![1]!.replaceAll('&amp;', '&');
    expect(link).toBe('/usage?platform=slack&user=u9');
    const filtered = await session.get(link);
    expect(filtered.body).toContain('Showing user <strong>slack:u9</strong>');
    expect(/data-figure="tokens-in">([^<]*)</.exec(filtered.body)![1]).toBe('25,000');
  });

  it('should say so when nothing is near', async () => {
    const page = await session.get('/usage');
    expect(page.body).toContain('id="budgets-near-empty"');
    expect(page.body).not.toContain('id="budgets-near"');
  });

  it('should set a limit from the form: the overview and the page change, with one audit entry', async () => {
    await seed();
    const saved = await session.post('/usage/budgets/limit', VALID_LIMIT);
    expect(saved.statusCode).toBe(303);
    expect(saved.headers.location).toBe('/usage#budgets');

    const overview = await rt.budgets.budgetOverview(NOW);
    const ada = overview.budgets.find((b) => b.key === 'user:discord:81234' && b.period === 'daily' && b.unit === 'tokens')!;
    expect([ada.limit, ada.percent, ada.source]).toEqual([100_000, 42.5, 'admin']);
    expect(overview.nearOrOver.map((b) => b.key)).toEqual(['user:slack:u9', 'user:discord:555']);

    const page = await session.get('/usage');
    expect(page.body).toContain('The daily tokens limit for discord:81234 is now 100,000 tokens.');
    const shown = row(table(page.body, 'budgets-table'), 'user:discord:81234|daily|tokens');
    expect(shown).toMatch(/<progress class="budget-bar budget-ok" value="42500" max="100000"/);
    expect(shown).toContain('data-percent>42.5%<');
    expect(shown).toContain('<td>admin</td>');
    expect(budgetIds(table(page.body, 'budgets-near'))).not.toContain('user:discord:81234|daily|tokens');
    expect(await budgetAudit()).toEqual([{ actor: 'admin@127.0.0.1', action: 'budget.set', target: 'user:discord:81234', detail: 'daily tokens 100000' }]);

    // from htmx: the section alone; `none` lifts the limit, `default` hands it back to the config file
    const lifted = await session.post('/usage/budgets/limit', { ...VALID_LIMIT, amount: 'none' }, { htmx: true });
    expect(lifted.statusCode).toBe(200);
    expect(lifted.body.startsWith('<section id="budgets"')).toBe(true);
    expect(lifted.body).toContain('The daily tokens limit for discord:81234 is lifted, whatever the config file says.');
    expect(budgetIds(table(lifted.body, 'budgets-table'))).not.toContain('user:discord:81234|daily|tokens');
    const restored = await session.post('/usage/budgets/limit', { ...VALID_LIMIT, amount: 'default' }, { htmx: true });
    expect(restored.body).toContain('is back to the config file’s: 50,000 tokens.');
    expect(row(table(restored.body, 'budgets-table'), 'user:discord:81234|daily|tokens')).toContain('data-percent>85%<');
    expect((await budgetAudit()).map((a) => a.detail)).toEqual(['daily tokens 100000', 'daily tokens none', 'daily tokens config']);
  });

  it('should set a role limit and a pooled one', async () => {
    await seed();
    expect((await session.post('/usage/budgets/limit', { who: '@user', period: 'daily', unit: 'tokens', amount: '30,000' })).statusCode).toBe(303);
    expect((await session.post('/usage/budgets/limit', { who: 'platform:discord', period: 'monthly', unit: 'usd', amount: '$2' })).statusCode).toBe(303);
    const page = await session.get('/usage');
    expect(table(page.body, 'budgets-roles')).toContain('<th scope="row">@user</th><td>daily tokens</td><td class="num">30,000 tokens</td><td>admin</td>');
    const all = table(page.body, 'budgets-table');
    expect(row(all, 'user:discord:555|daily|tokens')).toContain('data-percent>63.3%<');
    expect(row(all, 'platform:discord|monthly|usd')).toMatch(/data-used>\$1.25<[\s\S]*data-limit>\$2.00<[\s\S]*data-percent>62.5%</);
    expect((await budgetAudit()).map((a) => [a.target, a.detail])).toEqual([
      ['role:user', 'daily tokens 30000'],
      ['platform:discord', 'monthly usd 2'],
    ]);
  });

  it('should refuse bad values with a message beside the field and change nothing', async () => {
    await seed();
    const before = await figures();

    const amount = await session.post('/usage/budgets/limit', { ...VALID_LIMIT, amount: 'lots' });
    expect(amount.statusCode).toBe(422);
    expect(amount.body).toMatch(/<input id="limit-amount" name="amount" value="lots"[^>]* aria-invalid="true" aria-describedby="limit-amount-error">/);
    expect(amount.body).toContain('<p class="field-error" id="limit-amount-error">&quot;lots&quot; is not an amount: a number above 0 (tokens, such as 50000 or 50k); or none, or default</p>');
    expect(amount.body).toContain('Nothing was changed: fix the fields marked below.');

    const several = await session.post('/usage/budgets/limit', { who: 'nobody', period: 'weekly', unit: 'eur', amount: '5' }, { htmx: true });
    expect(several.statusCode).toBe(422);
    expect(several.body.startsWith('<section id="budgets"')).toBe(true);
    expect(several.body).toContain('id="limit-who-error">&quot;nobody&quot; is not platform:userId, @role, global, platform:&lt;name&gt; or experience:&lt;slug&gt;</p>');
    expect(several.body).toContain('id="limit-period-error">daily or monthly</p>');
    expect(several.body).toContain('id="limit-unit-error">tokens or usd</p>');

    const missing = await session.post('/usage/budgets/limit', { ...VALID_LIMIT, who: 'experience:nope' });
    expect(missing.statusCode).toBe(422);
    expect(missing.body).toContain('id="limit-who-error">there is no Experience &quot;nope&quot;</p>');
    expect((await session.post('/usage/budgets/limit', { ...VALID_LIMIT, amount: '0' })).body).toContain('id="limit-amount-error"');

    const grant = await session.post('/usage/budgets/grant', { identity: '@user', unit: 'tokens', amount: '-5', hours: '1000' });
    expect(grant.statusCode).toBe(422);
    expect(grant.body).toContain('id="grant-identity-error">an override is for one person: platform:userId, such as discord:81234</p>');
    expect(grant.body).toContain('id="grant-amount-error">&quot;-5&quot; is not an amount');
    expect(grant.body).toContain('id="grant-hours-error">hours, from 1 to 744');
    expect(grant.body).toContain('Nothing was granted');
    expect((await session.post('/usage/budgets/grant', { ...VALID_GRANT, hours: '0' })).statusCode).toBe(422);

    expect(await figures()).toEqual(before);
    expect(await rt.database.db.selectFrom('budget_limits').selectAll().execute()).toEqual([]);
    expect(await rt.database.db.selectFrom('budget_grants').selectAll().execute()).toEqual([]);
    expect(await budgetAudit()).toEqual([]);
  });

  it('should grant an override that raises the effective limit until it ends', async () => {
    await seed();
    const granted = await session.post('/usage/budgets/grant', VALID_GRANT);
    expect(granted.statusCode).toBe(303);

    const overview = await rt.budgets.budgetOverview(NOW);
    const bo = overview.budgets.find((b) => b.key === 'user:discord:555')!;
    expect([bo.limit, bo.extra, bo.percent]).toEqual([20_000, 10_000, 63.3]);
    expect(overview.nearOrOver.map((b) => b.key)).toEqual(['user:slack:u9', 'user:discord:81234']);

    const page = await session.get('/usage');
    expect(page.body).toContain('discord:555 gets 10,000 tokens extra on every limit their turns meet until 2026-11-23 12:00 UTC.');
    const shown = row(table(page.body, 'budgets-table'), 'user:discord:555|daily|tokens');
    expect(shown).toContain('data-limit>20,000 tokens <small>+ 10,000 tokens override</small></td>');
    expect(shown).toMatch(/value="19000" max="30000"/);
    expect(shown).toContain('data-percent>63.3%<');
    expect(table(page.body, 'budgets-grants')).toMatch(/10,000 tokens<\/td><td>2026-11-23 12:00 UTC<\/td><td>admin@127.0.0.1<\/td>/);
    expect(await budgetAudit()).toEqual([{ actor: 'admin@127.0.0.1', action: 'budget.override', target: 'discord:555', detail: 'tokens +10000 until 2026-11-23T12:00:00.000Z' }]);
    // the chat side sees the same allowance
    expect((await rt.budgets.statusFor({ platform: 'discord', id: '555' }, null)).find((u) => u.level === 'user')).toMatchObject({ extra: 10_000 });
  });

  it('should refuse a POST without the CSRF token and change nothing', async () => {
    await seed();
    const before = await figures();
    expect((await session.post('/usage/budgets/limit', VALID_LIMIT, { csrf: false })).statusCode).toBe(403);
    expect((await session.post('/usage/budgets/limit', VALID_LIMIT, { csrf: 'not-the-token' })).statusCode).toBe(403);
    expect((await session.post('/usage/budgets/grant', VALID_GRANT, { csrf: false })).statusCode).toBe(403);
    expect((await session.post('/usage/budgets/grant', VALID_GRANT, { csrf: false, htmx: true })).statusCode).toBe(403);
    expect(await figures()).toEqual(before);
    expect(await rt.database.db.selectFrom('budget_limits').selectAll().execute()).toEqual([]);
    expect(await rt.database.db.selectFrom('budget_grants').selectAll().execute()).toEqual([]);
    expect(await budgetAudit()).toEqual([]);
  });

  it('should escape names and identities that came from users and platforms, and what was typed', async () => {
    await seed();
    for (const body of [(await session.get('/usage')).body, (await session.get('/')).body]) {
      expect(body).not.toContain('<script>alert(1)');
      expect(body).not.toContain('<img src=x');
      expect(body).toContain('&lt;script&gt;alert(1)&lt;/script&gt; · discord:555');
    }
    expect((await session.get('/usage')).body).toContain('href="/usage?platform=matrix&amp;user=%22%3E%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E"');

    const typed = await session.post('/usage/budgets/limit', { ...VALID_LIMIT, who: '"><script>alert(2)</script>' });
    expect(typed.statusCode).toBe(422);
    expect(typed.body).not.toContain('<script>alert(2)');
    expect(typed.body).toContain('value="&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"');

    const odd = await session.post('/usage/budgets/grant', { ...VALID_GRANT, identity: 'discord:<b>bold</b>' }, { htmx: true });
    expect(odd.statusCode).toBe(200);
    expect(odd.body).not.toContain('<b>bold</b>');
    expect(odd.body).toContain('discord:&lt;b&gt;bold&lt;/b&gt; gets 10,000 tokens extra');
  });
});

describe('Dashboard: budgets card', () => {
  /** A real turn by test:ada that crosses 80% of her 10,000 tokens: the chat warning is given and recorded. */
  async function crossWarning(): Promise<string> {
    await spend('test', 'ada', 7000);
    const general = await rt.deps.experiences.require('general');
    const created = await rt.deps.conversations.create({ platform: 'test', channelId: 'dm-ada', threadId: null }, general.id, 'test:ada');
    await rt.deps.conversations.update(created.id, { title: 'Budgets' });
    rt.openai.script({ answer: 'answer', usage: { input: 1200, output: 300 } });
    const reply = new RecordingReply();
    await rt.engine.handle(inbound('hello'), reply);
    return reply.last().text;
  }

  it('should show budgets at or past 80% and the warnings given, linking to the Usage page', async () => {
    await seed();
    expect(await crossWarning()).toContain('⚠ Your daily budget is 85% used: 8,500 of 10,000 tokens today.');
    const page = await session.get('/');
    expect(page.statusCode).toBe(200);
    const card = /<section id="dashboard-budgets"[\s\S]*?<\/section>/.exec(page.body)![0];
    expect(card).toContain('class="budget-card budget-card-over"');
    expect(/data-figure="budgets-near">(\d+)</.exec(card)![1]).toBe('4');
    expect(/data-figure="warnings-today">(\d+)</.exec(card)![1]).toBe('1');
    expect(budgetIds(table(card, 'dashboard-budgets-near'))).toEqual(['user:slack:u9|daily|tokens', 'user:discord:555|daily|tokens', 'user:discord:81234|daily|tokens', 'user:test:ada|daily|tokens']);
    expect(row(card, 'user:test:ada|daily|tokens')).toMatch(/<progress class="budget-bar budget-near" value="8500" max="10000"/);
    expect(card).toContain('<li>test:ada — daily tokens <small>(2026-11-22, 2026-11-22 12:00 UTC)</small></li>');
    expect(card).toContain('<a href="/usage#budgets">');
  });

  it('should show no warning when no budget is at 80%', async () => {
    await spend('discord', '81234', 1000);
    const card = /<section id="dashboard-budgets"[\s\S]*?<\/section>/.exec((await session.get('/')).body)![0];
    expect(card).toContain('class="budget-card"');
    expect(/data-figure="budgets-near">(\d+)</.exec(card)![1]).toBe('0');
    expect(card).not.toContain('dashboard-budgets-near');
  });
});
