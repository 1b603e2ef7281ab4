import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adminContext, startAdmin, type RunningAdmin } from '../../src/admin/index.js';
import { BackupService } from '../../src/core/backups/service.js';
import { silentLogger } from '../../src/core/log.js';
import { addUtcDays as addDays, utcDay as dayOf } from '../../src/core/format/utc.js';
import type { FakeOllamaServer } from '../fakes/providers.js';
import { ADMIN_PASSWORD } from '../support/admin.js';
import { describeInBrowser, launchBrowser, signedInPage } from '../support/browser.js';
import { BACKUPS_COPY_THE_SQLITE_FILE, sqliteOnly } from '../support/postgres.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

/** The Models, Usage and Backups pages in Chromium: progress over SSE, the chart, a restore. */

describeInBrowser('admin operations in Chromium', () => {
  let rt: TestRuntime;
  let ollama: FakeOllamaServer;
  let admin: RunningAdmin;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** console errors and uncaught page errors: CSP violations show up here */
  let problems: string[];

  beforeAll(async () => {
    rt = await startTestRuntime();
    ollama = rt.ollama as FakeOllamaServer;
    const backups = new BackupService({ database: rt.database, dataDir: rt.dir, config: rt.deps.config.backups, log: silentLogger, onRestored: () => rt.deps.experiences.clearCache() });
    admin = await startAdmin(adminContext(rt, { password: ADMIN_PASSWORD, backups }), { host: '127.0.0.1', port: 0 });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await admin?.close();
    await rt?.shutdown();
  });

  beforeEach(async () => {
    ({ context, page, problems } = await signedInPage(browser, admin.url, ADMIN_PASSWORD));
  });
  afterEach(async () => {
    await context.close();
    expect(problems, 'console errors (CSP violations?)').toEqual([]);
  });

  async function textOf(locator: Locator): Promise<string> {
    await locator.first().waitFor();
    return ((await locator.first().textContent()) ?? '').trim();
  }

  it('should pull a model with a progress bar that climbs to 100%, then list it', async () => {
    ollama.setPullPace(25, 40);
    await page.goto('/models');
    await page.getByLabel('Pull a model').fill('tinyllama');
    await page.getByRole('button', { name: 'Pull', exact: true }).click();

    const bar = page.locator('#pull-ollama progress');
    const seen = new Set<number>();
    const done = page.getByText('Pulled tinyllama.');
    for (let i = 0; i < 200 && !(await done.isVisible()); i++) {
      const value = await bar.first().getAttribute('value', { timeout: 100 }).catch(() => null);
      if (value !== null) seen.add(Number(value));
      await page.waitForTimeout(20);
    }
    await done.waitFor();
    expect(await bar.getAttribute('value')).toBe('100');
    expect([...seen].some((v) => v > 0 && v < 100), `values seen on the way: ${[...seen].join(', ')}`).toBe(true);
    // the panel refreshes itself once the pull is done
    await page.locator('#installed-ollama tr[data-model="tinyllama:latest"]').waitFor();
  });

  it('should load a model, show it as loaded, and unload it', async () => {
    await page.goto('/models');
    const row = page.locator('#installed-ollama tr[data-model="llama3.2:latest"]');
    await row.getByRole('button', { name: 'Load' }).click();
    const loaded = page.locator('#loaded-ollama tr[data-model="llama3.2:latest"]');
    expect(await textOf(loaded)).toContain('1.9 GB (100%)');
    expect(ollama.loaded().map((m) => m.name)).toEqual(['llama3.2:latest']);

    await loaded.getByRole('button', { name: 'Unload' }).click();
    await page.locator('#loaded-ollama-empty').waitFor();
    expect(ollama.loaded()).toEqual([]);
    expect(ollama.requests.filter((r) => r.path === '/api/generate').at(-1)!.body.keep_alive).toBe(0);
  });

  /** Four chat turns over the last week, on two models. */
  async function seedUsage(): Promise<void> {
    const today = dayOf(new Date());
    await rt.database.db
      .insertInto('usage_events')
      .values(
        [0, 1, 2, 5].map((ago, i) => ({
          created_at: `${addDays(today, -ago)}T09:00:00.000Z`,
          platform: 'discord', user_id: 'u1', experience_id: null, conversation_id: null, message_id: null,
          provider: 'openai', model: i % 2 ? 'openai/gpt-4o' : 'openai/gpt-4o-mini', purpose: 'chat' as const,
          tokens_in: 1000 * (i + 1), tokens_out: 100, estimated: 0, cost_usd: 0.01 * (i + 1), latency_ms: 900, ttft_ms: 200, status: 'ok' as const, error: null,
        })),
      )
      .execute();
  }

  it('should draw the usage chart from the ledger', async () => {
    await rt.database.db.deleteFrom('usage_events').execute();
    await seedUsage();
    await page.goto('/usage');
    const bars = page.locator('#chart-tokens svg rect.bar');
    await bars.first().waitFor();
    expect(await bars.count()).toBe(4);
    const box = await page.locator('#chart-tokens svg').boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(box!.height).toBeGreaterThan(100);
    expect(await textOf(page.locator('[data-figure="events"]'))).toBe('4');
  });

  sqliteOnly(BACKUPS_COPY_THE_SQLITE_FILE).it('should back up, restore that backup, and show the data as it was', async () => {
    const events = async () => textOf(page.locator('[data-figure="events"]'));
    await seedUsage();
    await page.goto('/usage');
    const before = await events();
    expect(Number(before)).toBeGreaterThanOrEqual(4);

    await page.goto('/backups');
    await page.getByRole('button', { name: 'Back up now' }).click();
    const made = await textOf(page.locator('#backup-progress').getByText(/Backed up and verified/));
    const name = /(threadloom-[\w-]+\.sqlite)/.exec(made)![1]!;
    await page.locator(`#backups-table tr[data-backup="${name}"][data-status="ok"]`).waitFor();

    await rt.database.db.deleteFrom('usage_events').execute();
    await page.goto('/usage');
    expect(await events()).toBe('0');

    await page.goto('/backups');
    await page.locator(`#backups-table tr[data-backup="${name}"]`).getByRole('button', { name: 'Restore…' }).click();
    await page.getByRole('button', { name: `Yes, restore ${name}` }).click();
    await page.locator('#restore-progress').getByText(`Restored ${name}.`).waitFor();
    await page.locator('#backups-table tr[data-backup$="-pre-restore.sqlite"]').first().waitFor();

    await page.goto('/usage');
    expect(await events()).toBe(before);
  });
});
