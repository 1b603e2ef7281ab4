/**
 * Shared core of the fake model servers: server lifecycle, request recording, behaviour queues,
 * and `FakeCall`, one request in flight.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fakeEmbedding } from './play.js';
import type { FakeBehaviour, FakeProviderServer, FakeRoute, FakeServerOptions, RecordedRequest } from './types.js';

export type { FakeBehaviour, FakeProviderServer, FakeRoute, FakeServerOptions, FakeToolCall, FakeUsage, RecordedRequest } from './types.js';
export { argumentsText, defaultUsage, fakeEmbedding, playPlainBehaviour, retryHeaders, splitChunks, streamAnswer, toBase64Float32, type WireFormat } from './play.js';

/** One request in flight, with helpers that stop early once the client has gone. */
export class FakeCall {
  closed = false;
  private readonly closedPromise: Promise<void>;

  constructor(
    readonly req: http.IncomingMessage,
    readonly res: http.ServerResponse,
    readonly record: RecordedRequest,
  ) {
    this.closedPromise = new Promise((resolve) => res.once('close', () => resolve()));
    res.once('close', () => {
      this.closed = true;
    });
  }

  /** Waits `ms` (Infinity: forever); resolves false if the connection closed meanwhile. */
  async sleep(ms: number): Promise<boolean> {
    if (this.closed) return false;
    if (ms <= 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const elapsed = Number.isFinite(ms) ? new Promise<void>((r) => (timer = setTimeout(r, ms))) : new Promise<void>(() => {});
    await Promise.race([elapsed, this.closedPromise]);
    if (timer) clearTimeout(timer);
    return !this.closed;
  }

  /** Writes, waiting for drain under backpressure; false if the connection is gone. */
  async write(data: string): Promise<boolean> {
    if (this.closed) return false;
    if (!this.res.write(data)) {
      await Promise.race([new Promise<void>((r) => this.res.once('drain', () => r())), this.closedPromise]);
    }
    return !this.closed;
  }

  startStream(contentType: string): void {
    this.res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache', connection: 'keep-alive' });
    this.res.flushHeaders();
  }

  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (this.closed) return;
    const text = JSON.stringify(body);
    this.res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    this.res.end(text);
  }

  /** Lets written bytes reach the client, then drops the connection without a proper end. */
  async cut(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((r) => this.res.write('', () => r()));
    await this.sleep(50);
    this.res.socket?.destroy();
  }
}

export type RouteHandler = (call: FakeCall, server: FakeServerCore) => Promise<void>;

/** Server lifecycle, recording and behaviour queues shared by the three fakes. */
export class FakeServerCore {
  readonly requests: RecordedRequest[] = [];
  models: string[];
  readonly defaultAnswer: FakeServerOptions['defaultAnswer'];
  readonly chunkSize: number;
  readonly embeddingDimension: number;
  readonly embedder: (text: string, dimension: number) => number[];
  private readonly queues = new Map<FakeRoute, FakeBehaviour[]>();
  private readonly sockets = new Set<Socket>();
  private server: http.Server | undefined;
  url = '';

  constructor(
    options: FakeServerOptions,
    defaultModels: string[],
    private readonly route: (method: string, path: string) => RouteHandler | null,
    private readonly notFound: (call: FakeCall) => void,
  ) {
    this.models = options.models ? [...options.models] : [...defaultModels];
    this.defaultAnswer = options.defaultAnswer;
    this.chunkSize = options.chunkSize ?? 4;
    this.embeddingDimension = options.embeddingDimension ?? 8;
    this.embedder = options.embedder ?? fakeEmbedding;
  }

  enqueue(route: FakeRoute, behaviours: FakeBehaviour[]): void {
    const queue = this.queues.get(route) ?? [];
    queue.push(...behaviours);
    this.queues.set(route, queue);
  }

  next(route: FakeRoute): FakeBehaviour | undefined {
    return this.queues.get(route)?.shift();
  }

  knows(model: unknown, normalise: (name: string) => string = (n) => n): boolean {
    if (this.models.includes('*')) return true;
    return typeof model === 'string' && this.models.some((m) => normalise(m) === normalise(model));
  }

  answerFor(record: RecordedRequest, behaviour: FakeBehaviour, lastUserText: string): string {
    if (behaviour.answer !== undefined) return behaviour.answer;
    if (behaviour.toolCalls?.length) return '';
    const d = this.defaultAnswer;
    if (typeof d === 'function') return d(record);
    if (typeof d === 'string') return d;
    return `Echo: ${lastUserText}`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The public face of a fake: `chatPath` is its chat endpoint, `urlSuffix` is appended to the origin. */
  publicApi(chatPath: string, urlSuffix = ''): FakeProviderServer {
    const core = this;
    const chats = (): RecordedRequest[] => core.requests.filter((r) => r.path === chatPath);
    return {
      url: `${core.url}${urlSuffix}`,
      requests: core.requests,
      get models() {
        return core.models;
      },
      set models(value: string[]) {
        core.models = value;
      },
      script: (...behaviours) => core.enqueue('chat', behaviours),
      scriptFor: (route, ...behaviours) => core.enqueue(route, behaviours),
      chatRequests: chats,
      lastChatBody() {
        const last = chats().at(-1);
        if (!last) throw new Error(`no request to ${chatPath} received`);
        return last.body;
      },
      close: () => core.close(),
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    let settle!: () => void;
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      body,
      disconnected: false,
      settled: new Promise<void>((r) => (settle = r)),
    };
    res.once('close', () => {
      if (!res.writableFinished) record.disconnected = true;
      settle();
    });
    this.requests.push(record);
    const call = new FakeCall(req, res, record);
    const handler = this.route(record.method, path);
    try {
      if (handler) await handler(call, this);
      else this.notFound(call);
    } catch (err) {
      if (!res.headersSent) call.json(500, { error: `fake server bug: ${String(err)}` });
      else res.destroy();
    }
  }
}
