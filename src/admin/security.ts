import type { FastifyInstance } from 'fastify';

/**
 * Headers on every response. The CSP allows exactly what the pages use: scripts and styles from
 * this server only (htmx and app.css under /static/), no inline script or style, fetches (htmx,
 * server-sent events) to this server, forms posting to this server, no framing. htmx's own
 * indicator stylesheet is turned off by the htmx-config meta tag in the layout; app.css has it.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    reply.header('cross-origin-opener-policy', 'same-origin');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
}
