import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildAdminApp } from '../../src/admin/app.js';
import { BackupService, type BackupServiceOptions } from '../../src/core/backups/service.js';
import { silentLogger } from '../../src/core/log.js';
import { adminContext, type AdminContext } from '../../src/admin/context.js';
import type { Config } from '../../src/core/config.js';
import type { NewUsageEventRow } from '../../src/core/usage/table.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';

export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface TestAdmin {
  rt: TestRuntime;
  ctx: AdminContext;
  app: FastifyInstance;
  /** a clock the test moves: `clock.advance(ms)` */
  clock: { now: Date; advance(ms: number): void };
  /** signs in from `address` (default 127.0.0.1) and returns a session that talks like a browser */
  login(options?: { address?: string; password?: string }): Promise<AdminSession>;
  /** GET without a session */
  anonymous(url: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface AdminSession {
  cookie: string;
  csrf: string;
  get(url: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** a form POST; the session's CSRF token is added unless `csrf` says otherwise (false: none) */
  post(url: string, form?: Record<string, string>, options?: { csrf?: string | false; htmx?: boolean; header?: boolean }): Promise<LightMyRequestResponse>;
}

/** A usage_events row: an ok chat call to openai/gpt-4o-mini, zero tokens, unless overridden. */
export function usageEvent(overrides: Partial<NewUsageEventRow> = {}): NewUsageEventRow {
  return { provider: 'openai', model: 'openai/gpt-4o-mini', purpose: 'chat', status: 'ok', tokens_in: 0, tokens_out: 0, estimated: 0, cost_usd: 0, ...overrides };
}

export function formBody(form: Record<string, string>): string {
  return new URLSearchParams(form).toString();
}

export function cookieFrom(response: LightMyRequestResponse, name: string): string | undefined {
  const raw = response.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const line = list.find((c) => c.startsWith(`${name}=`));
  return line?.split(';')[0];
}

/** The page's login form token and its cookie, as a browser would get them. */
export async function loginForm(app: FastifyInstance, address = '127.0.0.1'): Promise<{ token: string; cookie: string }> {
  const page = await app.inject({ method: 'GET', url: '/login', remoteAddress: address });
  const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
  const cookie = cookieFrom(page, 'tl_login');
  if (!token || !cookie) throw new Error(`no login form: ${page.statusCode} ${page.body.slice(0, 200)}`);
  return { token, cookie };
}

export async function postLogin(app: FastifyInstance, password: string, address = '127.0.0.1', next?: string): Promise<LightMyRequestResponse> {
  const { token, cookie } = await loginForm(app, address);
  return app.inject({
    method: 'POST',
    url: '/login',
    remoteAddress: address,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: formBody({ _csrf: token, password, ...(next ? { next } : {}) }),
  });
}

/** The admin app over a full test runtime (real SQLite, fake providers), with a movable clock. */
export async function startTestAdmin(options: { password?: string | null; config?: (c: Config) => Config; dir?: string } = {}): Promise<TestAdmin> {
  const clock = {
    now: new Date('2026-11-22T12:00:00Z'),
    advance(ms: number) {
      clock.now = new Date(clock.now.getTime() + ms);
    },
  };
  const rt = await startTestRuntime({ ...(options.config ? { config: options.config } : {}), ...(options.dir ? { dir: options.dir } : {}) });
  const password = options.password === null ? undefined : (options.password ?? ADMIN_PASSWORD);
  const ctx = adminContext(rt, { now: () => clock.now, ...(password ? { password } : {}) });
  const app = buildAdminApp(ctx);
  await app.ready();

  async function login(loginOptions: { address?: string; password?: string } = {}): Promise<AdminSession> {
    const address = loginOptions.address ?? '127.0.0.1';
    const response = await postLogin(app, loginOptions.password ?? password ?? '', address);
    const cookie = cookieFrom(response, 'tl_session');
    if (response.statusCode !== 303 || !cookie) throw new Error(`login failed: ${response.statusCode} ${response.body.slice(0, 300)}`);
    const home = await app.inject({ method: 'GET', url: '/', headers: { cookie }, remoteAddress: address });
    const csrf = /"X-CSRF-Token": "([^"]+)"/.exec(home.body)?.[1];
    if (!csrf) throw new Error('no CSRF token on the dashboard');
    return {
      cookie,
      csrf,
      get: (url, headers = {}) => app.inject({ method: 'GET', url, headers: { cookie, ...headers }, remoteAddress: address }),
      post: (url, form = {}, postOptions = {}) => {
        const token = postOptions.csrf === undefined ? csrf : postOptions.csrf;
        const headers: Record<string, string> = { cookie, 'content-type': 'application/x-www-form-urlencoded' };
        if (postOptions.htmx) headers['hx-request'] = 'true';
        if (token !== false && postOptions.header) headers['x-csrf-token'] = token;
        const body = token !== false && !postOptions.header ? { ...form, _csrf: token } : form;
        return app.inject({ method: 'POST', url, headers, payload: formBody(body), remoteAddress: address });
      },
    };
  }

  return {
    rt,
    ctx,
    app,
    clock,
    login,
    anonymous: (url, headers = {}) => app.inject({ method: 'GET', url, headers }),
    close: async () => {
      await app.close();
      await rt.shutdown();
    },
  };
}

/** Gives the admin a backup service over its own runtime's database, as main.ts does. */
export function attachBackups(admin: TestAdmin, options: Partial<BackupServiceOptions> = {}): BackupService {
  const service = new BackupService({
    database: admin.rt.database,
    dataDir: admin.rt.dir,
    config: admin.rt.deps.config.backups,
    log: silentLogger,
    onRestored: () => admin.rt.deps.experiences.clearCache(),
    ...options,
  });
  admin.ctx.backups = service;
  return service;
}
