import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminContext, startAdmin, type RunningAdmin } from '../../src/admin/index.js';
import { conceptEmbedder } from '../fakes/providers/concepts.js';
import { ADMIN_PASSWORD } from '../support/admin.js';
import { describeInBrowser, launchBrowser, signedInPage } from '../support/browser.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { until } from '../support/wait.js';

/** The Conversations page's search box in Chromium, with semantic search on. */

describeInBrowser('admin search in Chromium', () => {
  let rt: TestRuntime;
  let admin: RunningAdmin;
  let browser: Browser;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    rt = await startTestRuntime({
      config: (c) => ({ ...c, search: { ...c.search, embeddingModel: 'ollama/nomic-embed-text', intervalMs: 30 } }),
      fakes: { ollama: { embedder: conceptEmbedder([['ceph', 'osd', 'rebalance', 'storage', 'disk']]), embeddingDimension: 16 } },
    });
    const { conversations, experiences } = rt.deps;
    const conversation = await conversations.create({ platform: 'discord', channelId: 'ops', threadId: null }, (await experiences.defaultExperience()).id, 'ada');
    await conversations.update(conversation.id, { title: 'OSDs after the new disk' });
    await conversations.append(conversation.id, { role: 'user', content: 'the OSDs keep rebalancing since the new disk went in', authorId: 'ada', authorName: 'Ada' });
    await until(async () => (await rt.deps.search!.indexer.status()).indexed === 1);
    admin = await startAdmin(adminContext(rt, { password: ADMIN_PASSWORD }), { host: '127.0.0.1', port: 0 });
    browser = await launchBrowser();
    ({ page, problems } = await signedInPage(browser, admin.url, ADMIN_PASSWORD));
  });
  afterAll(async () => {
    await browser?.close();
    await admin?.close();
    await rt?.shutdown();
  });

  it('finds a conversation by meaning from the search box, in place, and opens it at the message', async () => {
    await page.goto('/conversations');
    await page.getByLabel('Search').fill('ceph storage');
    await page.getByRole('button', { name: 'Filter' }).click();
    const hit = page.locator('.search-hits li').first();
    await hit.waitFor();
    expect(await hit.textContent()).toContain('the OSDs keep rebalancing');
    expect(await hit.locator('.badge').allTextContents()).toEqual(['meaning']);
    expect(page.url()).toMatch(/\/conversations$/); // swapped in by htmx, no reload
    await Promise.all([page.waitForURL(/\/conversations\/\d+#m\d+$/), hit.getByRole('link', { name: 'OSDs after the new disk' }).click()]);
    expect(problems, 'console errors (CSP violations?)').toEqual([]);
  });
});
