/**
 * Route tables: each route is a method and a path template under `/_matrix/`
 * (`client/v3/rooms/:roomId/send/:eventType/:txnId`; a last `:name?` may be empty or absent),
 * and whether it needs an access token. Parameters arrive URL-decoded.
 */
import type { Device } from './accounts.js';
import type { Homeserver } from './homeserver.js';
import type { Json } from './types.js';

export type Answer = { status?: number; json: unknown; headers?: Record<string, string> } | { status?: number; data: Buffer; contentType: string; headers?: Record<string, string> };

export interface RequestContext {
  hs: Homeserver;
  /** the caller's device when a valid token came with the request */
  device: Device | null;
  params: Record<string, string>;
  query: URLSearchParams;
  /** the JSON body (`{}` when none); raw-body routes get `raw` */
  body: Json;
  raw: Buffer;
  headers: Record<string, string | string[] | undefined>;
  /** aborts when the client goes away */
  signal: AbortSignal;
  baseUrl: string;
}

export interface AuthedContext extends RequestContext {
  device: Device;
}

export interface Route {
  method: string;
  template: string;
  auth: boolean;
  /** the body is bytes (uploads), not JSON */
  rawBody: boolean;
  pattern: RegExp;
  names: string[];
  handle(ctx: RequestContext): Answer | Promise<Answer>;
}

function compile(template: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const parts = template.split('/').map((part) => {
    if (part.startsWith(':')) {
      const optional = part.endsWith('?');
      names.push(part.slice(1, optional ? -1 : undefined));
      return optional ? '(?:/([^/]*))?' : '/([^/]+)';
    }
    return part === '' ? '' : `/${part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
  });
  return { pattern: new RegExp(`^/_matrix${parts.join('')}/?$`), names };
}

interface RouteOptions {
  rawBody?: boolean;
}

export function authed(method: string, template: string, handle: (ctx: AuthedContext) => Answer | Promise<Answer>, options: RouteOptions = {}): Route {
  return { method, template, auth: true, rawBody: options.rawBody ?? false, ...compile(template), handle: (ctx) => handle(ctx as AuthedContext) };
}

export function open(method: string, template: string, handle: (ctx: RequestContext) => Answer | Promise<Answer>): Route {
  return { method, template, auth: false, rawBody: false, ...compile(template), handle };
}

export const json = (body: unknown, status = 200): Answer => ({ status, json: body });

export type Match = { route: Route; params: Record<string, string> } | { route: null; methodMismatch: boolean };

export function match(routes: Route[], method: string, path: string): Match {
  let methodMismatch = false;
  for (const route of routes) {
    const found = route.pattern.exec(path);
    if (!found) continue;
    if (route.method !== method) {
      methodMismatch = true;
      continue;
    }
    const params: Record<string, string> = {};
    route.names.forEach((name, i) => (params[name] = decodeURIComponent(found[i + 1] ?? '')));
    return { route, params };
  }
  return { route: null, methodMismatch };
}

/** A string field of a JSON body, or undefined. */
export const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
