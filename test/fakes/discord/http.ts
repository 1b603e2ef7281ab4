/**
 * The fake's HTTP side: REST under `/api/v*`, attachment downloads under `/attachments/`, and the
 * websocket upgrade handed to the gateway. Every REST request is recorded; unknown routes get
 * 404 `{ message: 'Unknown route', code: 0 }`.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { FakeGateway } from './gateway.js';
import { roomyHeaders } from './ratelimit.js';
import type { RecordedFile, RecordedRest } from './types.js';

export interface RouteContext {
  params: Record<string, string>;
  query: Record<string, string>;
  body: any;
  files: RecordedFile[];
  route: string;
}
export interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
export type RouteHandler = (ctx: RouteContext) => RouteResult | Promise<RouteResult>;

interface Route {
  method: string;
  name: string;
  segments: string[];
  handler: RouteHandler;
}

export function apiError(status: number, code: number, message: string, errors?: unknown): RouteResult {
  return { status, body: { message, code, ...(errors ? { errors } : {}) } };
}

export function ok(body?: unknown, status = body === undefined ? 204 : 200): RouteResult {
  return { status, body };
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** JSON, or multipart with `payload_json` and file parts (parsed by the platform's own FormData). */
async function parseBody(raw: Buffer, contentType: string): Promise<{ body: any; files: RecordedFile[] }> {
  if (raw.length === 0) return { body: undefined, files: [] };
  if (contentType.startsWith('multipart/form-data')) {
    const form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
    const files: RecordedFile[] = [];
    let body: any = {};
    for (const [field, value] of form.entries()) {
      if (typeof value === 'string') {
        if (field === 'payload_json') body = JSON.parse(value);
        else body[field] = value;
      } else {
        files.push({ field, name: value.name, contentType: value.type || 'application/octet-stream', data: Buffer.from(await value.arrayBuffer()) });
      }
    }
    return { body, files };
  }
  const text = raw.toString('utf8');
  try {
    return { body: JSON.parse(text), files: [] };
  } catch {
    return { body: text, files: [] };
  }
}

export class FakeHttp {
  readonly rest: RecordedRest[] = [];
  private readonly routes: Route[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: http.Server;

  constructor(
    private readonly gateway: FakeGateway,
    private readonly attachment: (channelId: string, id: string) => { data: Buffer; contentType: string } | undefined,
    private readonly token: string | undefined,
  ) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `fake discord: ${error instanceof Error ? error.message : String(error)}`, code: 0 }));
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('upgrade', (req, socket, head) => this.gateway.handleUpgrade(req, socket, head));
  }

  /** Registers `METHOD /path/:param/...`. Literal segments win over params when both match. */
  add(spec: string, handler: RouteHandler): void {
    const [method, pattern] = spec.split(' ') as [string, string];
    this.routes.push({ method, name: spec, segments: pattern.split('/').filter(Boolean), handler });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private match(method: string, segments: string[]): { route: Route; params: Record<string, string> } | undefined {
    let best: { route: Route; params: Record<string, string>; literals: number } | undefined;
    for (const route of this.routes) {
      if (route.method !== method || route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let literals = 0;
      const fits = route.segments.every((seg, i) => {
        if (seg.startsWith(':')) return (params[seg.slice(1)] = segments[i]!), true;
        literals++;
        return seg === segments[i];
      });
      if (fits && (!best || literals > best.literals)) best = { route, params, literals };
    }
    return best;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const attachment = /^\/attachments\/(\d+)\/(\d+)\//.exec(url.pathname);
    if (attachment) {
      const found = this.attachment(attachment[1]!, attachment[2]!);
      if (!found) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': found.contentType, 'content-length': found.data.length });
      return void res.end(found.data);
    }
    const api = /^\/api(?:\/v\d+)?(\/.*)$/.exec(url.pathname);
    const path = (api ? api[1]! : url.pathname).split('/').map((seg) => { try { return decodeURIComponent(seg); } catch { return seg; } }).join('/');
    const { body, files } = await parseBody(await readBody(req), String(req.headers['content-type'] ?? ''));
    const found = this.match(method, path.split('/').filter(Boolean));
    const record: RecordedRest = {
      method, path, route: found?.route.name ?? 'unknown', query: Object.fromEntries(url.searchParams), body, files, status: 0, at: Date.now(),
    };
    this.rest.push(record);
    let result: RouteResult;
    const needsAuth = !path.startsWith('/interactions/') && !path.startsWith('/webhooks/');
    if (!found) result = apiError(404, 0, 'Unknown route');
    else if (needsAuth && this.token !== undefined && req.headers.authorization !== `Bot ${this.token}`) result = apiError(401, 0, '401: Unauthorized');
    else result = await found.route.handler({ params: found.params, query: record.query, body, files, route: found.route.name });
    record.status = result.status;
    const headers = { ...roomyHeaders(record.route), ...result.headers };
    if (result.body === undefined || result.status === 204) {
      res.writeHead(result.status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(result.body);
    res.writeHead(result.status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}
