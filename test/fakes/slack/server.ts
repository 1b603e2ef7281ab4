/**
 * The fake's HTTP side: Web API under `/api/<method>`, file downloads under `/files-pri/` (bot
 * token required), `response_url`s under `/response/<id>`, and the Socket Mode upgrade.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { SocketSide } from './socket.js';
import type { SlackState } from './state.js';
import type { Json } from './types.js';
import { callApi, type ApiContext } from './webapi.js';

export interface ServerHooks {
  api: ApiContext;
  socket: SocketSide;
  /** a POST to a response_url the fake issued; false when the id is unknown */
  onResponseUrl(id: string, body: Json): boolean;
}

function bearer(req: http.IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Form-encoded or JSON arguments, plus the query string. */
function parseArgs(req: http.IncomingMessage, raw: string, url: URL): Json {
  const args: Json = Object.fromEntries(url.searchParams);
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('application/json') && raw) Object.assign(args, JSON.parse(raw) as Json);
  else if (raw) Object.assign(args, Object.fromEntries(new URLSearchParams(raw)));
  return args;
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

export class FakeServer {
  readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly state: SlackState,
    private readonly hooks: ServerHooks,
  ) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => send(res, 500, { ok: false, error: String(error) }));
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('upgrade', (req, socket, head) => hooks.socket.upgrade(req, socket, head));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const raw = await readBody(req);
    const api = /^\/api\/([\w.]+)$/.exec(url.pathname);
    if (api) {
      let args: Json;
      try {
        args = parseArgs(req, raw, url);
      } catch {
        return send(res, 200, { ok: false, error: 'invalid_json' });
      }
      const token = bearer(req) ?? (typeof args.token === 'string' ? args.token : undefined);
      delete args.token;
      const result = callApi(this.hooks.api, api[1]!, args, token);
      return send(res, result.status, result.body, result.headers);
    }
    const file = /^\/files-pri\/[A-Z0-9]+-(F[A-Z0-9]+)\/[^/]+$/.exec(url.pathname);
    if (file && req.method === 'GET') {
      const token = bearer(req);
      const f = this.state.files.get(file[1]!);
      const status = !f ? 404 : token === this.state.id.botToken ? 200 : 401;
      this.state.fileFetches.push({ fileId: file[1]!, token, status });
      if (status !== 200 || !f) return send(res, status, status === 404 ? 'Not Found' : 'Unauthorized');
      res.writeHead(200, { 'content-type': f.mimetype, 'content-length': String(f.content.length) });
      return void res.end(f.content);
    }
    const response = /^\/response\/([\w-]+)$/.exec(url.pathname);
    if (response && req.method === 'POST') {
      let body: Json;
      try {
        body = JSON.parse(raw) as Json;
      } catch {
        return send(res, 400, 'invalid_payload');
      }
      return this.hooks.onResponseUrl(response[1]!, body) ? send(res, 200, 'ok') : send(res, 404, 'expired_url');
    }
    send(res, 404, 'Not Found');
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
