import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { modelDefaults } from '../../src/core/settings.js';
import { startFakeOpenAI, type FakeProviderServer } from '../fakes/providers.js';
import { ADMIN_PASSWORD } from '../support/admin.js';
import { storedInDatabase } from '../support/db.js';
import { startBrowserAdmin, type BrowserAdmin } from '../support/browser-admin.js';
import { describeInBrowser, signedInPage } from '../support/browser.js';

/** A newcomer's connection in Chromium: add it against a fake OpenAI server, test, save, pick its model. */

const KEY = 'sk-browser-connection-secret-5150';

describeInBrowser('connections in Chromium', () => {
  let world: BrowserAdmin;
  let lab: FakeProviderServer;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    lab = await startFakeOpenAI({ models: ['lab-model', 'lab-coder'] });
    world = await startBrowserAdmin();
  });
  afterAll(async () => {
    await world?.close();
    await lab?.close();
  });

  beforeEach(async () => {
    ({ context, page, problems } = await signedInPage(world.browser, world.admin.url, ADMIN_PASSWORD, /status of 422/));
  });
  afterEach(async () => {
    await context.close();
    expect(problems, 'console errors (CSP violations?)').toEqual([]);
  });

  it('should test, save and offer a new connection without ever showing its key again', async () => {
    await page.goto('/connections');
    await page.getByLabel('Name').fill('lab');
    await page.getByLabel('Kind').selectOption('openai');
    await page.getByLabel('Base URL (the host, for Ollama)').fill(lab.url);
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Test' }).click();
    const result = page.locator('#connection-test');
    await result.getByText('2 models offered').waitFor();
    expect(await result.locator('code').allTextContents()).toEqual(['lab-coder', 'lab-model']);
    expect(lab.requests.at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`);

    await Promise.all([page.waitForURL('**/connections?fresh=1'), page.getByRole('button', { name: 'Add the connection' }).click()]);
    await page.getByText('Added the connection “lab”').waitFor();
    await page.reload();
    const row = page.locator('#connections-table tr', { hasText: 'lab' });
    await row.waitFor();
    expect(await row.textContent()).toContain('saved');
    expect(await page.content()).not.toContain(KEY);

    await row.getByRole('link', { name: 'Edit' }).click();
    await page.getByText('A key is saved — leave empty to keep it.').waitFor();
    expect(await page.getByLabel('API key').inputValue()).toBe('');
    expect(await page.content()).not.toContain(KEY);

    // the Models page offers its models; picking one saves it as the default
    await page.goto('/models');
    const options = await page.locator('datalist#model-ids option').evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value));
    expect(options).toEqual(expect.arrayContaining(['lab/lab-model', 'lab/lab-coder', 'openai/gpt-4o-mini']));
    expect(await page.locator('#default-model').getAttribute('list')).toBe('model-ids');
    await page.locator('#default-model').fill('lab/lab-model');
    await page.locator('#default-fallbacks-1').fill('openai/gpt-4o-mini');
    await page.locator('#models-defaults').getByRole('button', { name: 'Save' }).click();
    await page.locator('#models-defaults').getByText('Saved.').waitFor();
    expect(await modelDefaults(world.rt.database.db, world.rt.deps.config)).toMatchObject({ defaultModel: 'lab/lab-model', fallbacks: ['openai/gpt-4o-mini'] });

    // the key is nowhere in plain text: not the log, not the database
    expect(JSON.stringify(world.rt.logs)).not.toContain(KEY);
    expect(await storedInDatabase(world.rt.database, KEY)).toBe(false);
  });

  it('should fit a phone at 390 px', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto('/connections');
    await page.getByRole('heading', { name: 'Add a connection' }).waitFor();
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
  });
});
