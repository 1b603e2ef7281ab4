/**
 * The fake's HTTP side: finds the route, checks `Authorization: Bearer` (401 `M_MISSING_TOKEN` /
 * `M_UNKNOWN_TOKEN`), parses the JSON body, answers, and logs every request. Unknown routes get
 * 404 `M_UNRECOGNIZED` (405 for a known path with another method) and are kept in
 * `unknownRoutes`, so a test can show the SDK asked nothing the fake does not serve.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { badJson, MatrixApiError, missingToken, unknownToken } from './errors.js';
import type { Homeserver } from './homeserver.js';
import { match, type Answer, type Route } from './router.js';
import type { Json, RequestRecord, UnknownRoute } from './types.js';

function bearer(req: http.IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length);
  return url.searchParams.get('access_token') ?? undefined;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseJson(raw: Buffer): Json {
  if (raw.length === 0) return {};
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new MatrixApiError(400, 'M_NOT_JSON', 'Content not JSON.');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badJson('Content must be a JSON object.');
  return body as Json;
}

function write(res: http.ServerResponse, answer: Answer): void {
  const status = answer.status ?? 200;
  if ('data' in answer) {
    res.writeHead(status, { 'content-type': answer.contentType, 'content-length': String(answer.data.length), ...answer.headers });
    res.end(answer.data);
    return;
  }
  const text = JSON.stringify(answer.json);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-cache, no-store, must-revalidate', ...answer.headers });
  res.end(text);
}

export class MatrixServer {
  readonly requests: RequestRecord[] = [];
  readonly unknownRoutes: UnknownRoute[] = [];
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  constructor(
    private readonly hs: Homeserver,
    private readonly routes: Route[],
  ) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // no keep-alive: a pooled socket to a closed fake whose port a new fake reuses fails the next fetch
    res.shouldKeepAlive = false;
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const found = match(this.routes, method, url.pathname);
    const record: RequestRecord = { method, path: url.pathname, query: url.search.slice(1), route: found.route ? `${found.route.method} ${found.route.template}` : null, userId: null, status: 200, at: Date.now() };
    this.requests.push(record);
    const aborted = new AbortController();
    res.on('close', () => aborted.abort());
    let answer: Answer;
    try {
      const raw = await readBody(req);
      if (!found.route) {
        this.unknownRoutes.push({ method, path: url.pathname });
        throw new MatrixApiError(found.methodMismatch ? 405 : 404, 'M_UNRECOGNIZED', 'Unrecognized request');
      }
      const token = bearer(req, url);
      const device = token ? this.hs.accounts.device(token) : undefined;
      if (found.route.auth && !token) throw missingToken();
      if (token && !device && found.route.auth) throw unknownToken();
      record.userId = device?.userId ?? null;
      answer = await found.route.handle({
        hs: this.hs,
        device: device ?? null,
        params: found.params,
        query: url.searchParams,
        body: found.route.rawBody ? {} : parseJson(raw),
        raw,
        headers: req.headers,
        signal: aborted.signal,
        baseUrl: this.url,
      });
    } catch (error) {
      const failure = error instanceof MatrixApiError ? error : new MatrixApiError(500, 'M_UNKNOWN', `fake Matrix: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      record.errcode = failure.errcode;
      answer = { status: failure.status, json: failure.body(), headers: failure.headers };
    }
    record.status = answer.status ?? 200;
    if (!res.destroyed) write(res, answer);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
