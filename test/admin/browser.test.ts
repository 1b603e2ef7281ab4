import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adminContext, startAdmin, type RunningAdmin } from '../../src/admin/index.js';
import { ADMIN_PASSWORD } from '../support/admin.js';
import { describeInBrowser, launchBrowser } from '../support/browser.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

const XSS = '<script>alert(1)</script><img src=x onerror=alert(1)>';
describeInBrowser('admin web in Chromium', () => {
  let rt: TestRuntime;
  let admin: RunningAdmin;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** console errors and uncaught page errors: CSP violations show up here */
  let problems: string[];
  let dialogs: string[];

  beforeAll(async () => {
    rt = await startTestRuntime();
    admin = await startAdmin(adminContext(rt, { password: ADMIN_PASSWORD }), { host: '127.0.0.1', port: 0 });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await admin?.close();
    await rt?.shutdown();
  });

  beforeEach(async () => {
    context = await browser.newContext({ baseURL: admin.url });
    // well under the test timeout, so a missing element fails with Playwright's own message
    context.setDefaultTimeout(8_000);
    page = await context.newPage();
    problems = [];
    dialogs = [];
    page.on('console', (message) => {
      // a refused request (403, 429) is logged as a failed resource load; that is the point of those tests
      if (message.type() === 'error' && !/status of (401|403|422|429)/.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('dialog', async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
  });
  afterEach(async () => {
    await context.close();
    expect(problems.join('\n'), 'console errors (CSP violations?)').toBe('');
    expect(dialogs).toEqual([]);
  });

  /** The element's text once it is there (playwright-core has no `expect(locator)` matchers). */
  async function textOf(locator: Locator): Promise<string> {
    await locator.first().waitFor();
    return ((await locator.first().textContent()) ?? '').trim();
  }

  /** Clicks a button that submits a plain form and waits for the page that comes back. */
  async function submit(button: Locator): Promise<void> {
    await Promise.all([page.waitForNavigation(), button.click()]);
  }

  async function signIn(password = ADMIN_PASSWORD): Promise<void> {
    await page.goto('/login');
    await page.getByLabel('Admin password').fill(password);
    await submit(page.getByRole('button', { name: 'Sign in' }));
  }

  it('should sign in and show the dashboard, htmx loading the providers under the CSP', async () => {
    await page.goto('/');
    expect(new URL(page.url()).pathname).toBe('/login');
    await signIn();
    await page.waitForURL((url) => url.pathname === '/');
    expect(await textOf(page.getByRole('heading', { level: 1 }))).toBe('Dashboard');
    // filled in by htmx after the page loaded: the script ran and its request went through
    await page.getByRole('cell', { name: 'anthropic', exact: true }).first().waitFor();
    expect(await page.locator('#providers').textContent()).toContain('openai');
  });

  it('should create an Experience from a template, list it, and archive it through htmx', async () => {
    await signIn();
    await page.goto('/experiences');
    await page.getByLabel('Template', { exact: true }).selectOption('code-review');
    await submit(page.getByRole('button', { name: 'Use template' }));
    await page.waitForURL((url) => url.pathname === '/experiences/new');
    await page.getByLabel('Name', { exact: true }).fill('Browser reviewer');
    await page.getByLabel('Slug').fill('browser-reviewer');
    await submit(page.getByRole('button', { name: 'Create Experience' }));
    await page.waitForURL((url) => url.pathname === '/experiences');
    expect(await textOf(page.getByRole('status'))).toBe('Created the Experience “Browser reviewer”.');
    const row = page.locator('#experience-browser-reviewer');
    await row.getByRole('link', { name: 'Browser reviewer' }).waitFor({ state: 'visible' });

    // htmx posts with the X-CSRF-Token header from <body hx-headers:inherited> and swaps the row
    await row.getByRole('button', { name: 'Archive' }).click();
    await row.getByRole('button', { name: 'Unarchive' }).waitFor({ state: 'visible' });
    expect(await row.getAttribute('class')).toBe('archived');
    expect((await rt.deps.experiences.require('browser-reviewer')).archivedAt).not.toBeNull();
  });

  it('should show a stored XSS payload as text: no script runs, no image loads', async () => {
    const conversation = await rt.deps.conversations.create({ platform: 'discord', channelId: 'xss', threadId: null }, 1, 'discord:evil');
    await rt.deps.conversations.update(conversation.id, { title: XSS });
    await rt.deps.conversations.append(conversation.id, { role: 'user', content: XSS, authorId: 'evil', authorName: XSS });
    await signIn();
    await page.goto(`/conversations/${conversation.id}`);
    expect(await textOf(page.getByRole('heading', { level: 1 }))).toBe(XSS);
    expect(await textOf(page.locator('.message .content'))).toBe(XSS);
    expect(await page.locator('main script, main img').count()).toBe(0);
    await page.goto('/conversations');
    await page.getByRole('link', { name: XSS }).waitFor({ state: 'visible' });
    expect(await page.locator('main script, main img').count()).toBe(0);
  });

  it('should refuse a form posted without its CSRF token and change nothing', async () => {
    await signIn();
    await page.goto('/experiences/general');
    const before = await rt.deps.experiences.require('general');
    // a forged form: the same request, minus the token
    await page.locator('form.experience input[name="_csrf"]').evaluate((input) => input.remove());
    await page.getByLabel('Persona name').fill('Forged');
    const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Save' }).click()]);
    expect(response.status()).toBe(403);
    expect(await textOf(page.getByRole('alert'))).toContain('did not carry a valid CSRF token');
    expect((await rt.deps.experiences.require('general')).personaName).toBe(before.personaName);

    // and a script posting with the session cookie but no token
    const status = await page.evaluate(async () => (await fetch('/experiences/general/archive', { method: 'POST', body: new URLSearchParams() })).status);
    expect(status).toBe(403);
    expect((await rt.deps.experiences.require('general')).archivedAt).toBeNull();
  });

  it('should lock out after five wrong passwords, the right one included', async () => {
    // a second admin over the same runtime: its own lockout counts, so the other tests stay signed in
    const second = await startAdmin(adminContext(rt, { password: ADMIN_PASSWORD }), { host: '127.0.0.1', port: 0 });
    try {
      for (let i = 1; i <= 5; i++) {
        await page.goto(new URL('/login', second.url).href);
        await page.getByLabel('Admin password').fill(`wrong ${i}`);
        await submit(page.getByRole('button', { name: 'Sign in' }));
        expect(await textOf(page.getByRole('alert'))).toContain(i < 5 ? `${5 - i} more` : 'locked for 15 minutes');
      }
      await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
      await submit(page.getByRole('button', { name: 'Sign in' }));
      expect(await textOf(page.getByRole('alert'))).toContain('Too many wrong passwords');
      expect(new URL(page.url()).pathname).toBe('/login');
      await page.goto(new URL('/', second.url).href);
      expect(new URL(page.url()).pathname).toBe('/login');
    } finally {
      // the page first: a late request (the favicon) to a closed server would log an error
      await page.close();
      await second.close();
    }
  });
});
