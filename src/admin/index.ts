import type { AddressInfo } from 'node:net';
import { buildAdminApp } from './app.js';
import type { AdminContext } from './context.js';
import { capConnections, DEFAULT_LIMITS, type ConnectionLimits } from './limits.js';

export { buildAdminApp } from './app.js';
export { adminContext, type AdminContext } from './context.js';

export interface RunningAdmin {
  /** http://host:port/ as it actually listens (port 0 resolved) */
  url: string;
  close(): Promise<void>;
}

/** Starts the admin web on host:port (config.admin by default: 127.0.0.1:8787). */
export async function startAdmin(ctx: AdminContext, options: { host?: string; port?: number; limits?: ConnectionLimits } = {}): Promise<RunningAdmin> {
  const host = options.host ?? ctx.config.admin.host;
  const port = options.port ?? ctx.config.admin.port;
  const limits = options.limits ?? DEFAULT_LIMITS;
  const app = buildAdminApp(ctx, limits);
  // behind a trusted proxy every connection comes from the proxy: no per-address cap then
  capConnections(app.server, limits, ctx.config.admin.trustProxy === false);
  await app.listen({ host, port });
  const address = app.server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}/`;
  ctx.log.info(`admin web listening on ${url}`);
  return { url, close: () => app.close() };
}
