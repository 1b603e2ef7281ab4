import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { ADMIN_PASSWORD } from '../support/admin.js';
import { startBrowserAdmin, type BrowserAdmin } from '../support/browser-admin.js';
import { describeInBrowser, signedInPage } from '../support/browser.js';
import { greyPng, makeLargePdf } from '../core/knowledge/files.js';

/** The Knowledge page in Chromium with what people really upload: a 50 MB manual of photos, and files that are not documents. */

const MEGABYTE = 1024 * 1024;
/** the chapters' text; the rest of the 50 MB is one photo page */
const CHAPTERS = [
  { heading: 'Unpacking', paragraphs: ['Lift the roaster out by the two cardboard handles and keep the foam corners for transport.'] },
  { heading: 'Descaling', paragraphs: ['The descaling valve sits behind the left service panel; open it a quarter turn before each monthly rinse.'] },
  { heading: 'Warranty', paragraphs: ['Register the serial number within thirty days to extend the warranty to five years.'] },
];
/** the upload, the read and the index of 50 MB on a loaded machine: far more than they take, short of forever */
const PATIENT = 60_000;

describeInBrowser('Knowledge uploads in Chromium: a 50 MB PDF and refused formats', () => {
  let world: BrowserAdmin;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let dir: string;
  let manual: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'threadloom-large-upload-'));
    manual = path.join(dir, 'roaster-manual.pdf');
    writeFileSync(manual, await makeLargePdf(CHAPTERS, 50 * MEGABYTE));
    world = await startBrowserAdmin();
  });
  afterAll(async () => {
    await world?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    ({ context, page, problems } = await signedInPage(world.browser, world.admin.url, ADMIN_PASSWORD));
  });
  afterEach(async () => {
    await context.close();
    expect(problems, 'console errors (CSP violations?)').toEqual([]);
  });

  const general = async (): Promise<number> => (await world.rt.deps.experiences.require('general')).id;

  it('should take a 50 MB PDF, list it indexed with its pages, and find its text', async () => {
    await page.goto('/knowledge/general');
    expect(await page.locator('label[for="k-files"]').textContent()).toContain('up to 64.0 MB each');
    await page.getByLabel(/^Files/).setInputFiles(manual);
    await Promise.all([page.waitForURL('**/knowledge/general/upload', { timeout: PATIENT }), page.getByRole('button', { name: 'Upload' }).click()]);

    const result = page.locator('#knowledge-results');
    expect(await result.textContent()).toMatch(/roaster-manual\.pdf: added 4 pages, \d+ chunks?, indexed\. page 4 has no text layer/);
    const row = page.locator('table.knowledge-documents tbody tr', { hasText: 'roaster-manual.pdf' });
    expect(await row.textContent()).toContain('indexed');
    const [doc] = await world.rt.knowledge.list(await general());
    expect(doc).toMatchObject({ fileName: 'roaster-manual.pdf', status: 'indexed', format: 'pdf', pageCount: 4 });
    expect(doc!.sizeBytes).toBeGreaterThan(50 * MEGABYTE);

    await page.getByRole('textbox', { name: 'Question' }).fill('where is the descaling valve');
    await page.getByRole('button', { name: 'Retrieve' }).click();
    await page.locator('#knowledge-test-result').getByText('behind the left service panel').waitFor();
  }, PATIENT);

  it('should refuse a program, an archive and a photo, saying which files are read, and add none of them', async () => {
    const before = (await world.rt.knowledge.list(await general())).length;
    await page.goto('/knowledge/general');
    await page.getByLabel(/^Files/).setInputFiles([
      { name: 'setup.exe', mimeType: 'application/x-msdownload', buffer: Buffer.concat([Buffer.from('MZ'), Buffer.alloc(4096)]) },
      { name: 'manuals.zip', mimeType: 'application/zip', buffer: Buffer.concat([Buffer.from('PK\u0003\u0004', 'latin1'), Buffer.alloc(512, 7)]) },
      { name: 'roaster.png', mimeType: 'image/png', buffer: Buffer.from(greyPng()) },
    ]);
    await Promise.all([page.waitForURL('**/knowledge/general/upload'), page.getByRole('button', { name: 'Upload' }).click()]);
    const lines = await page.locator('#knowledge-results li').allTextContents();
    expect(lines).toEqual(
      ['setup.exe', 'manuals.zip', 'roaster.png'].map(
        (name) => `${name}: refused "${name}" can't be read: only PDF, Word (.docx), Markdown, HTML, CSV and plain text files are read.`,
      ),
    );
    expect(await page.locator('table.knowledge-documents tbody tr', { hasText: /setup\.exe|manuals\.zip|roaster\.png/ }).count()).toBe(0);
    expect((await world.rt.knowledge.list(await general())).length).toBe(before);
  });
});
