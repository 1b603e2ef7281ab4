import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Rendering, the one way pages are made:
 *   reply.page('experiences', data)    views/pages/experiences.eta inside views/layout.eta, or
 *                                      alone when the request came from htmx (HX-Request)
 *   reply.partial('experience-row', d) views/partials/experience-row.eta alone, always
 * Every template sees `it.csrf` (the session's token, '' before login), `it.path`, `it.nav`
 * and `it.flash`, next to the route's own data. `<%= %>` escapes; `<%~ %>` is kept for
 * HTML this server rendered itself (the page body, included partials).
 */

export type ViewData = Record<string, unknown>;

declare module 'fastify' {
  interface FastifyReply {
    page(name: string, data?: ViewData): Promise<FastifyReply>;
    partial(name: string, data?: ViewData): Promise<FastifyReply>;
  }
  interface FastifyRequest {
    /** the request came from htmx and wants a fragment, not a whole page */
    readonly isHtmx: boolean;
  }
}

/** The nav, in order. `key` matches the first path segment. */
export const NAV: ReadonlyArray<{ key: string; href: string; label: string }> = [
  { key: '', href: '/', label: 'Dashboard' },
  { key: 'experiences', href: '/experiences', label: 'Experiences' },
  { key: 'conversations', href: '/conversations', label: 'Conversations' },
  { key: 'models', href: '/models', label: 'Models' },
  { key: 'connections', href: '/connections', label: 'Connections' },
  { key: 'tools', href: '/tools', label: 'Tools' },
  { key: 'knowledge', href: '/knowledge', label: 'Knowledge' },
  { key: 'usage', href: '/usage', label: 'Usage' },
  { key: 'backups', href: '/backups', label: 'Backups' },
  { key: 'settings', href: '/settings', label: 'Settings' },
  { key: 'tokens', href: '/tokens', label: 'API tokens' },
  { key: 'audit', href: '/audit', label: 'Audit' },
];

function wantsFragment(request: FastifyRequest): boolean {
  // a boosted link or a history restore wants the whole page; a targeted swap wants the fragment
  return request.headers['hx-request'] === 'true' && request.headers['hx-boosted'] !== 'true' && request.headers['hx-history-restore-request'] !== 'true';
}

function baseData(request: FastifyRequest, reply: FastifyReply): ViewData {
  const session = request.session;
  const flash = session?.flash ?? null;
  if (session) session.flash = null;
  return {
    csrf: session?.csrf ?? '',
    path: request.url.split('?')[0],
    section: request.url.split('?')[0]!.split('/')[1] ?? '',
    nav: NAV,
    flash,
    loggedIn: Boolean(session),
    status: reply.statusCode,
  };
}

export function registerRendering(app: FastifyInstance): void {
  app.decorateRequest('isHtmx', {
    getter(this: FastifyRequest) {
      return wantsFragment(this);
    },
  });

  app.decorateReply('page', async function page(this: FastifyReply, name: string, data: ViewData = {}) {
    const request = this.request;
    const it = { ...baseData(request, this), ...data };
    const body = await this.viewAsync(`pages/${name}`, it);
    this.header('vary', 'HX-Request');
    this.type('text/html; charset=utf-8');
    if (request.isHtmx) return this.send(body);
    return this.send(await this.viewAsync('layout', { ...it, body }));
  });

  app.decorateReply('partial', async function partial(this: FastifyReply, name: string, data: ViewData = {}) {
    const it = { ...baseData(this.request, this), ...data };
    this.type('text/html; charset=utf-8');
    return this.send(await this.viewAsync(`partials/${name}`, it));
  });
}
