import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { homelabServer } from '../fakes/mcp/support.js';
import { ADMIN_PASSWORD } from '../support/admin.js';
import { startBrowserAdmin, type BrowserAdmin } from '../support/browser-admin.js';
import { describeInBrowser, signedInPage } from '../support/browser.js';

/** On a phone in Chromium: add an MCP server, Test it, see its tools, and set one to ask first. */

const SECRET = 'browser-mcp-secret-2718';

describeInBrowser('Tools in Chromium at 390 px', () => {
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
    ({ context, page, problems } = await signedInPage(world.browser, world.admin.url, ADMIN_PASSWORD, /status of 422/));
    await page.setViewportSize({ width: 390, height: 844 });
  });
  afterEach(async () => {
    await context.close();
    expect(problems, 'console errors (CSP violations?)').toEqual([]);
  });

  it('should add a server, test it, list its tools and set one to confirm', async () => {
    const server = homelabServer() as { command: string; args: string[] };
    await page.goto('/tools');
    await page.getByLabel('Name', { exact: true }).fill('homelab');
    await page.getByLabel('Kind').selectOption('command');
    await page.getByLabel('Command', { exact: true }).fill(server.command);
    await page.getByLabel('Arguments (one a line)').fill(server.args.join('\n'));
    await page.getByLabel('Environment (KEY=value, one a line)').fill(`HOMELAB_TOKEN=${SECRET}`);
    await page.getByRole('button', { name: 'Test' }).click();
    const result = page.locator('#mcp-test');
    await result.getByText('Connected over stdio').waitFor({ timeout: 20_000 });
    await result.getByText('homelab__list_machines').waitFor();
    expect(await result.textContent()).toContain('Lists the machines in the homelab');
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);

    await Promise.all([page.waitForURL('**/tools'), page.getByRole('button', { name: 'Add the server' }).click()]);
    await page.getByText('Added “homelab”: connected').waitFor();
    const card = page.locator('#server-homelab');
    await card.getByText('Its tools').click();
    await card.getByText('homelab__reboot_machine').waitFor();
    expect(await page.content()).not.toContain(SECRET);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);

    await page.getByRole('link', { name: 'Tools of Homelab' }).click();
    await page.getByLabel('Offer the tools of homelab').check();
    await page.getByLabel('homelab__list_machines').selectOption('confirm');
    await Promise.all([page.waitForURL('**/tools/experiences/homelab'), page.getByRole('button', { name: 'Save the tools' }).click()]);
    await page.getByText('Saved the tools of').waitFor();
    expect(await page.getByLabel('homelab__list_machines').inputValue()).toBe('confirm');
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    const tools = (await world.rt.deps.experiences.require('homelab')).tools;
    expect(tools.sources).toEqual(['homelab']);
    expect(tools.modes).toEqual({ homelab__list_machines: 'confirm' });
  });
});
