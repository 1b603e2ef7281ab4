import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit } from './audit.js';
import type { AdminContext } from './context.js';
import { clearCookie, readCookie, setCookie } from './cookies.js';
import { FAILURE_WINDOW_MS, LoginLimiter, LOCKOUT_MS, MAX_FAILURES, minutes } from './lockout.js';
import { SharedLoginFailures } from './lockout-shared.js';
import { isPostgres } from '../core/db/dialect.js';
import { checkAdminPassword } from './password.js';
import { sameToken, SESSION_COOKIE, SessionStore, type Session } from './sessions.js';

/**
 * Login, logout, the session on every request, and CSRF.
 * - Every route needs a session unless its config says `public: true` (login, /healthz) or it is
 *   a static file under /static/. Routes with `basicAuth: true` (/metrics) also take HTTP Basic
 *   auth with the admin password, for a Prometheus scraper; the lockout applies there too.
 * - Every POST/PUT/PATCH/DELETE must carry the session's CSRF token, as the `_csrf` form field or
 *   the `X-CSRF-Token` header (htmx sends it from `hx-headers:inherited` on <body>).
 * - The login form has its own token, bound to a short-lived `tl_login` cookie.
 */

declare module 'fastify' {
  interface FastifyRequest {
    session: Session | null;
  }
  interface FastifyInstance {
    /** the session store and the login limiter, for the Settings page's password change */
    adminAuth: { sessions: SessionStore; limiter: LoginLimiter };
  }
  interface FastifyContextConfig {
    /** reachable without logging in */
    public?: boolean;
    /** also reachable with HTTP Basic auth (any user name, the admin password) */
    basicAuth?: boolean;
  }
}

const LOGIN_COOKIE = 'tl_login';
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function csrfFrom(request: FastifyRequest): string | undefined {
  const header = request.headers['x-csrf-token'];
  if (typeof header === 'string') return header;
  const body = request.body as Record<string, unknown> | undefined;
  return body && typeof body === 'object' && typeof body._csrf === 'string' ? body._csrf : undefined;
}

/**
 * Only a local path: "/experiences", never "//evil.example", "https://…", or anything with a
 * control character (a browser drops a tab or newline, so "/\t/evil.example" is "//evil.example";
 * CR/LF would split the header).
 */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])/.test(value) && !/[\u0000-\u001f\u007f]/.test(value) ? value : '/';
}

export function registerAuth(app: FastifyInstance, ctx: AdminContext): { sessions: SessionStore; limiter: LoginLimiter } {
  const clock = () => ctx.now().getTime();
  const sessions = new SessionStore(ctx.runtime.deps.db, clock);
  const db = ctx.runtime.deps.db;
  const limiter = new LoginLimiter(clock, isPostgres(db) ? new SharedLoginFailures(db, FAILURE_WINDOW_MS) : null);

  app.decorateRequest('session', null);
  app.decorate('adminAuth', { sessions, limiter });
  // a flash set by a route, or shown by a page, is written back before the answer goes out: the
  // browser follows a redirect at once, and on PostgreSQL (or another instance) a write made after
  // the answer lost that race now and then, so the next page showed no flash
  app.addHook('onSend', async (request, _reply, payload) => {
    if (request.session) await sessions.saveFlash(request.session).catch((err) => ctx.log.warn('admin: could not save the session flash', { error: String(err) }));
    return payload;
  });

  async function refuse(request: FastifyRequest, reply: FastifyReply, status: number, message: string): Promise<FastifyReply> {
    reply.code(status);
    return reply.page('error', { title: status === 403 ? 'Refused' : 'Sign in', message });
  }

  async function basicAuthorized(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const header = request.headers.authorization;
    if (!header?.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const password = decoded.slice(decoded.indexOf(':') + 1);
    await limiter.refresh(request.ip);
    const start = limiter.begin(request.ip);
    if (!start.ok) return false;
    if (await checkAdminPassword(ctx, password)) {
      start.attempt.succeed();
      return true;
    }
    const lockedNow = start.attempt.fail();
    if (lockedNow) ctx.log.warn(`admin: ${request.ip} locked out for ${minutes(lockedNow)} minutes after ${MAX_FAILURES} wrong passwords (Basic auth on ${request.url})`);
    reply.header('www-authenticate', 'Basic realm="threadloom"');
    return false;
  }

  app.addHook('preHandler', async (request, reply) => {
    request.session = await sessions.find(readCookie(request, SESSION_COOKIE));
    const config = request.routeOptions.config ?? {};
    if (config.public || request.url.startsWith('/static/')) return;
    if (!request.session) {
      if (config.basicAuth && (await basicAuthorized(request, reply))) return;
      if (request.method === 'GET' || request.method === 'HEAD') {
        const next = encodeURIComponent(request.url);
        // htmx follows HX-Redirect with a full page load instead of swapping the login page in
        if (request.headers['hx-request'] === 'true') return reply.code(401).header('hx-redirect', `/login?next=${next}`).send();
        return reply.redirect(`/login?next=${next}`, 303);
      }
      return refuse(request, reply, 401, 'Your session has ended. Sign in again, then repeat what you did.');
    }
    if (UNSAFE_METHODS.has(request.method) && !sameToken(csrfFrom(request), request.session.csrf)) {
      ctx.log.warn('admin: request refused, CSRF token missing or wrong', { method: request.method, url: request.url, ip: request.ip });
      return refuse(request, reply, 403, 'This request did not carry a valid CSRF token, so nothing was changed. Reload the page and try again.');
    }
  });

  async function loginPage(request: FastifyRequest, reply: FastifyReply, status: number, message: string | null): Promise<FastifyReply> {
    // keep a token the browser already has: another tab or a stray request must not void the form
    const existing = readCookie(request, LOGIN_COOKIE);
    const token = existing && /^[\w-]{32}$/.test(existing) ? existing : randomBytes(24).toString('base64url');
    setCookie(reply, LOGIN_COOKIE, token, { maxAgeSeconds: 3600 });
    const next = safeNext((request.query as Record<string, unknown>).next ?? (request.body as Record<string, unknown> | undefined)?.next);
    reply.code(status);
    return reply.page('login', { title: 'Sign in', loginToken: token, next, message, loggedIn: false });
  }

  app.get('/login', { config: { public: true } }, async (request, reply) => {
    if (request.session) return reply.redirect('/', 303);
    return loginPage(request, reply, 200, null);
  });

  app.post('/login', { config: { public: true } }, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const cookieToken = readCookie(request, LOGIN_COOKIE);
    if (!cookieToken || !sameToken(typeof body._csrf === 'string' ? body._csrf : undefined, cookieToken)) {
      return loginPage(request, reply, 403, 'The sign-in form had expired. Try again.');
    }
    const address = request.ip;
    await limiter.refresh(address);
    // counted before the password check awaits, so parallel guesses cannot all slip past the lock
    const start = limiter.begin(address);
    if (!start.ok) {
      const locked = limiter.lockedFor(address);
      reply.header('retry-after', String(Math.ceil(start.lockedForMs / 1000)));
      const message = locked > 0
        ? `Too many wrong passwords from this address. Signing in is locked for ${minutes(locked)} more minute(s).`
        : 'Too many sign-in attempts from this address at once. Wait a moment and try again.';
      return loginPage(request, reply, 429, message);
    }
    const password = typeof body.password === 'string' ? body.password : '';
    if (!(await checkAdminPassword(ctx, password))) {
      const lockedNow = start.attempt.fail();
      await audit(ctx, request, 'login.failed', lockedNow ? `locked for ${minutes(LOCKOUT_MS)} minutes` : null);
      if (lockedNow) {
        ctx.log.warn(`admin: ${address} locked out for ${minutes(lockedNow)} minutes after ${MAX_FAILURES} wrong passwords`);
        reply.header('retry-after', String(Math.ceil(lockedNow / 1000)));
        return loginPage(request, reply, 429, `Too many wrong passwords from this address. Signing in is locked for ${minutes(lockedNow)} minutes.`);
      }
      const left = limiter.remaining(address);
      return loginPage(request, reply, 401, `Wrong password. ${left} more ${left === 1 ? 'try' : 'tries'} before a ${minutes(LOCKOUT_MS)}-minute lock.`);
    }
    start.attempt.succeed();
    const session = await sessions.create(address);
    request.session = session;
    setCookie(reply, SESSION_COOKIE, session.id);
    clearCookie(reply, LOGIN_COOKIE);
    await audit(ctx, request, 'login');
    return reply.redirect(safeNext(body.next), 303);
  });

  app.post('/logout', async (request, reply) => {
    if (request.session) {
      await audit(ctx, request, 'logout');
      await sessions.destroy(request.session.id);
    }
    clearCookie(reply, SESSION_COOKIE);
    return reply.redirect('/login', 303);
  });

  return { sessions, limiter };
}
