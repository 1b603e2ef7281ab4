import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { ADMIN_PASSWORD } from '../support/admin.js';
import { startBrowserAdmin, type BrowserAdmin } from '../support/browser-admin.js';
import { describeInBrowser, signedInPage } from '../support/browser.js';

/** On a phone in Chromium: upload a file, see it indexed, ask the test box, open the preview; drop a second file. */

const MANUAL = 'The espresso machine needs descaling every month. Fill the tank with descaler and run the rinse programme twice.';

describeInBrowser('Knowledge in Chromium at 390 px', () => {
  let world: BrowserAdmin;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    world = await startBrowserAdmin();
  });
  afterAll(async () => {
    await world?.close();
  });

  beforeEach(async () => {
    ({ context, page, problems } = await signedInPage(world.browser, world.admin.url, ADMIN_PASSWORD));
    await page.setViewportSize({ width: 390, height: 844 });
  });
  afterEach(async () => {
    await context.close();
    expect(problems, 'console errors (CSP violations?)').toEqual([]);
  });

  const fitsThePhone = async () => expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);

  it('should upload a file, list it indexed, show what a question retrieves and preview its text', async () => {
    await page.goto('/knowledge');
    await page.getByRole('link', { name: 'General assistant' }).click();
    await page.waitForURL('**/knowledge/general');
    await page.getByLabel(/^Files/).setInputFiles({ name: 'espresso.txt', mimeType: 'text/plain', buffer: Buffer.from(MANUAL) });
    await Promise.all([page.waitForURL('**/knowledge/general/upload'), page.getByRole('button', { name: 'Upload' }).click()]);
    await page.locator('#knowledge-results').getByText('espresso.txt').waitFor();
    expect(await page.locator('#knowledge-results').textContent()).toContain('added');
    const row = page.locator('table.knowledge-documents tbody tr').first();
    expect(await row.textContent()).toContain('indexed');
    await fitsThePhone();

    await page.getByRole('textbox', { name: 'Question' }).fill('how often descaling');
    await page.getByRole('button', { name: 'Retrieve' }).click();
    const result = page.locator('#knowledge-test-result');
    await result.getByText('run the rinse programme twice').waitFor();
    expect(await result.textContent()).toMatch(/score \d+\.\d{4} · matched by keywords/);
    await fitsThePhone();

    await page.getByRole('link', { name: 'Preview' }).click();
    await page.locator('.knowledge-preview pre').getByText('needs descaling every month').waitFor();
    await fitsThePhone();
  });

  it('should take files dropped on the drop zone into the upload', async () => {
    await page.goto('/knowledge/general');
    // what a browser does when a file is dropped (the test has no DOM types: the script runs in the page)
    await page.evaluate(`(() => {
      const zone = document.querySelector('[data-drop-zone]');
      const data = new DataTransfer();
      data.items.add(new File(['The bike shed key hangs beside the fuse box.'], 'shed.txt', { type: 'text/plain' }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    })()`);
    await page.locator('.drop-names').getByText('shed.txt').waitFor();
    await Promise.all([page.waitForURL('**/knowledge/general/upload'), page.getByRole('button', { name: 'Upload' }).click()]);
    await page.locator('#knowledge-results').getByText('shed.txt').waitFor();
    const docs = await world.rt.knowledge.list((await world.rt.deps.experiences.require('general')).id);
    expect(docs.map((d) => d.fileName)).toContain('shed.txt');
  });
});
