import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adminContext, startAdmin, type RunningAdmin } from '../../src/admin/index.js';
import { configSchema } from '../../src/core/config.js';
import { recordUsage } from '../../src/core/usage/ledger.js';
import { ADMIN_PASSWORD } from '../support/admin.js';
import { describeInBrowser, launchBrowser, signedInPage } from '../support/browser.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

/** The budgets on the Usage page in Chromium: the bar, who is near, a limit changed through the form. */


/** one clock for the runtime and the admin, so the day the spending lands in is the day shown */
const NOW = new Date('2026-11-22T12:00:00.000Z');
const ADA = 'user:discord:81234|daily|tokens';

describeInBrowser('budgets in Chromium', () => {
  let rt: TestRuntime;
  let admin: RunningAdmin;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** console errors and uncaught page errors: CSP violations show up here */
  let problems: string[];

  beforeAll(async () => {
    rt = await startTestRuntime({
      now: () => NOW,
      config: (c) => ({ ...c, budgets: configSchema.shape.budgets.parse({ users: { 'discord:81234': { daily: { tokens: 50_000 } } } }) }),
    });
    await rt.database.db.insertInto('users').values({ platform: 'discord', platform_user_id: '81234', name: 'Ada' }).execute();
    await recordUsage(rt.database.db, [
      { platform: 'discord', user_id: '81234', provider: 'openai', model: 'openai/gpt-4o-mini', purpose: 'chat', tokens_in: 40_000, tokens_out: 2_500, estimated: 0, cost_usd: 0.5, status: 'ok', created_at: NOW.toISOString() },
    ]);
    admin = await startAdmin(adminContext(rt, { password: ADMIN_PASSWORD, now: () => NOW }), { host: '127.0.0.1', port: 0 });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await admin?.close();
    await rt?.shutdown();
  });

  beforeEach(async () => {
    // a refused form comes back as 422 for htmx to swap in; Chromium logs that status as an error
    ({ context, page, problems } = await signedInPage(browser, admin.url, ADMIN_PASSWORD, /status of 422/));
  });
  afterEach(async () => {
    await context.close();
    expect(problems, 'console errors (CSP violations?)').toEqual([]);
  });

  it('should show the bar at 85% and Ada near, then a new limit set through the form', async () => {
    await page.goto('/usage');
    const ada = page.locator(`#budgets-table tr[data-budget="${ADA}"]`);
    const bar = ada.locator('progress');
    await bar.waitFor();
    expect([await bar.getAttribute('value'), await bar.getAttribute('max')]).toEqual(['42500', '50000']);
    expect(await bar.evaluate((el) => (el as unknown as { position: number }).position)).toBeCloseTo(0.85, 5);
    const box = await bar.boundingBox();
    expect(box!.width).toBeGreaterThan(50);
    expect(await ada.locator('[data-percent]').textContent()).toBe('85%');
    await page.locator('#budgets-people a[data-identity="discord:81234"]').getByText('Ada · discord:81234').waitFor();
    expect(await page.locator('#budgets-near tr').count()).toBe(2); // the header and Ada

    // a bad amount: the message beside the field, the figures as they were
    const form = page.locator('#budget-limit-form');
    await form.getByLabel('For').fill('discord:81234');
    await form.getByLabel('Period').selectOption('daily');
    await form.getByLabel('Unit').selectOption('tokens');
    await form.getByLabel('Limit').fill('lots');
    await form.getByRole('button', { name: 'Set limit' }).click();
    await page.locator('#limit-amount-error').getByText('"lots" is not an amount').waitFor();
    expect(await page.locator(`#budgets-table tr[data-budget="${ADA}"] [data-percent]`).textContent()).toBe('85%');

    // a good one: the section comes back with the new share, and Ada is no longer near
    const again = page.locator('#budget-limit-form');
    await again.getByLabel('For').fill('discord:81234');
    await again.getByLabel('Limit').fill('100000');
    await again.getByRole('button', { name: 'Set limit' }).click();
    await page.locator('#budgets-message').getByText('The daily tokens limit for discord:81234 is now 100,000 tokens.').waitFor();
    const after = page.locator(`#budgets-table tr[data-budget="${ADA}"]`);
    expect(await after.locator('[data-percent]').textContent()).toBe('42.5%');
    expect(await after.locator('progress').getAttribute('max')).toBe('100000');
    await page.locator('#budgets-near-empty').waitFor();
    expect(page.url()).toMatch(/\/usage$/);
    expect((await rt.budgets.budgetOverview(NOW)).budgets.find((b) => b.key === 'user:discord:81234')!.limit).toBe(100_000);
  });

  it('should lead from the dashboard card to the budgets and from a name to that user', async () => {
    await rt.budgets.setLimit({ scope: 'user', target: 'discord:81234', period: 'daily', unit: 'tokens', amount: undefined, by: 'test' });
    await page.goto('/');
    const card = page.locator('#dashboard-budgets');
    expect(await card.locator(`tr[data-budget="${ADA}"] [data-percent]`).textContent()).toBe('85%');
    await Promise.all([page.waitForNavigation(), card.getByRole('link', { name: 'Budgets on the Usage page' }).click()]);
    expect(new URL(page.url()).hash).toBe('#budgets');
    await Promise.all([page.waitForNavigation(), page.locator('#budgets-people a[data-identity="discord:81234"]').click()]);
    await page.getByText('Showing user').waitFor();
    expect(await page.locator('.filter-summary strong').first().textContent()).toBe('discord:81234');
    expect(await page.locator('[data-figure="tokens-in"]').textContent()).toBe('40,000');
  });
});
