import type { Browser } from 'playwright-core';
import { adminContext, startAdmin, type RunningAdmin } from '../../src/admin/index.js';
import { ADMIN_PASSWORD } from './admin.js';
import { launchBrowser } from './browser.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';

/** A runtime, its admin web listening on 127.0.0.1 and a Chromium: what a browser suite stands on. */
export interface BrowserAdmin {
  rt: TestRuntime;
  admin: RunningAdmin;
  browser: Browser;
  close(): Promise<void>;
}

export async function startBrowserAdmin(): Promise<BrowserAdmin> {
  const rt = await startTestRuntime();
  const admin = await startAdmin(adminContext(rt, { password: ADMIN_PASSWORD }), { host: '127.0.0.1', port: 0 });
  const browser = await launchBrowser();
  return {
    rt, admin, browser,
    close: async () => {
      await browser.close();
      await admin.close();
      await rt.shutdown();
    },
  };
}
