import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { adminContext, startAdmin, type RunningAdmin } from '../../src/admin/index.js';
import { NAV } from '../../src/admin/render.js';
import { recordUsage } from '../../src/core/usage/ledger.js';
import { ADMIN_PASSWORD } from '../support/admin.js';
import { describeInBrowser, launchBrowser, signedInPage } from '../support/browser.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

/** The admin on a phone (390 px, as an iPhone 12–15) and in dark mode: no page wider than the screen, dark colours followed. */

const PHONE = { width: 390, height: 844 };
const NOW = new Date('2026-11-22T12:00:00.000Z');
/** long, unbroken values: the things that used to push the page wide */
const LONG_TITLE = 'Why does the reverse proxy return 502 for the websocket upgrade on the staging cluster';
const LONG_ERROR = 'ECONNREFUSED 127.0.0.1:11434 while calling http://ollama.internal.example:11434/api/chat?model=llama3.2:70b-instruct-q4_K_M';

/** relative luminance of a computed `rgb(r, g, b)` colour, 0 (black) … 1 (white) */
function luminance(colour: string): number {
  const [r, g, b] = (colour.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  if (r === undefined || g === undefined || b === undefined) throw new Error(`not a colour: ${colour}`);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

describeInBrowser('admin web on a phone and in dark mode', () => {
  let rt: TestRuntime;
  let admin: RunningAdmin;
  let browser: Browser;
  let context: BrowserContext | undefined;
  let problems: string[] = [];

  beforeAll(async () => {
    rt = await startTestRuntime({ now: () => NOW });
    const { conversations, experiences } = rt.deps;
    const general = await experiences.require('general');
    for (const n of [1, 2, 3]) {
      const c = await conversations.create({ platform: 'discord', channelId: `channel-${n}-1234567890123456789`, threadId: `thread-${n}-1234567890123456789` }, general.id, `discord:${n}1234567890123456789`);
      await conversations.update(c.id, { title: `${LONG_TITLE} (${n})` });
      await conversations.append(c.id, { role: 'user', content: LONG_ERROR, authorId: 'u1', authorName: 'Ada Lovelace-Byron' });
    }
    await recordUsage(rt.database.db, [
      { platform: 'discord', user_id: '81234567890123456789', provider: 'openai', model: 'openai/gpt-4o-mini-2024-07-18', purpose: 'chat', tokens_in: 40_000, tokens_out: 2_500, estimated: 0, cost_usd: 0.5, status: 'ok', created_at: NOW.toISOString() },
      { platform: 'matrix', user_id: '@someone.with.a.long.name:matrix.example.org', provider: 'ollama', model: 'ollama/llama3.2:70b-instruct-q4_K_M', purpose: 'chat', tokens_in: 1_000, tokens_out: 0, estimated: 0, cost_usd: 0, status: 'error', error: LONG_ERROR, created_at: NOW.toISOString() },
    ]);
    admin = await startAdmin(adminContext(rt, { password: ADMIN_PASSWORD, now: () => NOW }), { host: '127.0.0.1', port: 0 });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await admin?.close();
    await rt?.shutdown();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
    expect(problems, 'console errors (CSP violations?)').toEqual([]);
  });

  async function phone(colorScheme: 'light' | 'dark' = 'light'): Promise<Page> {
    const signedIn = await signedInPage(browser, admin.url, ADMIN_PASSWORD);
    ({ context, problems } = signedIn);
    await signedIn.page.setViewportSize(PHONE);
    await signedIn.page.emulateMedia({ colorScheme });
    return signedIn.page;
  }

  const pageWidth = (page: Page): Promise<number> => page.evaluate<number>('document.documentElement.scrollWidth');

  it('should fit every nav page into 390 px, wide tables scrolling inside their own box', async () => {
    const page = await phone();
    const conversation = await rt.database.db.selectFrom('conversations').select('id').executeTakeFirstOrThrow();
    const widths: Record<string, number> = {};
    for (const href of [...NAV.map((item) => item.href), `/conversations/${conversation.id}`]) {
      await page.goto(href);
      await page.waitForLoadState('networkidle');
      widths[href] = await pageWidth(page);
    }
    expect(widths).toEqual(Object.fromEntries(Object.keys(widths).map((href) => [href, PHONE.width])));
  });

  it('should fold the nav into a menu that opens on a tap and leads to a page', async () => {
    const page = await phone();
    await page.goto('/');
    const usage = page.getByRole('link', { name: 'Usage', exact: true });
    expect(await usage.isVisible()).toBe(false);
    const header = await page.locator('header.top').boundingBox();
    expect(header!.height).toBeLessThan(80);
    await page.locator('header.top summary').click();
    await usage.waitFor({ state: 'visible' });
    await Promise.all([page.waitForURL((url) => url.pathname === '/usage'), usage.click()]);
  });

  it('should give the dashboard\'s Budgets card one link to the budgets, not the same one twice', async () => {
    const page = await phone();
    await page.goto('/');
    const links = await page.locator('#dashboard-budgets a').evaluateAll((as) => as.map((a) => `${a.textContent} → ${a.getAttribute('href')}`));
    expect(links).toEqual(['Set one on the Usage page → /usage#budgets']);
  });

  it('should put each Settings checkbox on the line of its label', async () => {
    const page = await phone();
    await page.goto('/settings');
    const box = await page.getByLabel('Answer direct messages').first().boundingBox();
    const label = await page.locator('label[for="f-discord-allowDMs"]').boundingBox();
    expect(label!.x).toBeGreaterThan(box!.x + box!.width);
    expect(Math.abs(label!.y + label!.height / 2 - (box!.y + box!.height / 2))).toBeLessThan(label!.height / 2);
  });

  it('should show the nav links without a menu on a wide screen', async () => {
    const page = await phone();
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto('/');
    expect(await page.getByRole('link', { name: 'Usage', exact: true }).isVisible()).toBe(true);
    expect(await page.locator('header.top summary').isVisible()).toBe(false);
  });

  it('should follow prefers-color-scheme: dark background and light text when the system is dark', async () => {
    const page = await phone('light');
    await page.goto('/settings');
    // a string, evaluated in the page: this project's TypeScript has no DOM library
    const colours = () => page.evaluate<{ background: string; text: string }>('(({ backgroundColor, color }) => ({ background: backgroundColor, text: color }))(getComputedStyle(document.body))');
    const light = await colours();
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await colours();
    expect(luminance(light.background)).toBeGreaterThan(0.8);
    expect(luminance(dark.background)).toBeLessThan(0.05);
    expect(luminance(dark.text)).toBeGreaterThan(0.6);
    // the form controls follow too, not white boxes on a dark page
    const field = await page.evaluate<string>("getComputedStyle(document.querySelector('textarea')).backgroundColor");
    expect(luminance(field)).toBeLessThan(0.1);
  });
});
