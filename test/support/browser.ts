import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { describe, it } from 'vitest';

/**
 * Debian's Chromium driven by playwright-core (no browser download). The path comes from
 * CHROMIUM_PATH, else /usr/bin/chromium. Without a browser the suite is skipped with the reason,
 * unless THREADLOOM_REQUIRE_BROWSER=1 (CI), where a missing browser fails the run instead.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const BROWSER_REQUIRED = process.env.THREADLOOM_REQUIRE_BROWSER === '1';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Why the browser cannot run here, or null when it can. */
export function browserMissing(): string | null {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return null;
  } catch {
    return `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/**
 * A suite that needs Chromium: skipped (its name says why) when the browser is missing, and a
 * failing test instead when THREADLOOM_REQUIRE_BROWSER=1 (CI), so it can never pass by not running.
 */
export function describeInBrowser(name: string, suite: () => void): void {
  const missing = browserMissing();
  if (missing && BROWSER_REQUIRED) {
    describe(name, () => {
      it('needs a browser (THREADLOOM_REQUIRE_BROWSER=1)', () => {
        throw new Error(missing);
      });
    });
    return;
  }
  describe.skipIf(missing !== null)(`${name}${missing ? ` — skipped: ${missing}` : ''}`, suite);
}

/**
 * A page signed in to the admin at `baseURL`, and the console errors and uncaught page errors
 * it collects (CSP violations show up there); `allowed` matches console errors that are expected.
 */
export async function signedInPage(browser: Browser, baseURL: string, password: string, allowed?: RegExp): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ baseURL });
  context.setDefaultTimeout(8_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !allowed?.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto('/login');
  await page.getByLabel('Admin password').fill(password);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
  return { context, page, problems };
}
