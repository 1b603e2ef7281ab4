import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * What keeps slow or many connections from taking the admin web (and /v1) down: a deadline on
 * reading the headers and on reading a body, a per-chunk idle limit instead for uploads (a
 * database can take minutes to arrive, but never stalls), and caps on open connections.
 * Node's own requestTimeout did not cut a socket that trickles its body (Node 20.20), hence the
 * deadline of our own on the body stream.
 *
 * There is no idle timeout on a socket while its request is being answered: a local model can
 * take a minute to its first token, and the server is the slow side then.
 */
export interface ConnectionLimits {
  /** from the connection's start to its request headers, and between requests on one socket */
  headersMs: number;
  /** to read a whole request body, from its first byte */
  bodyMs: number;
  /** routes with `config: { upload: true }`: the longest pause between two chunks */
  uploadIdleMs: number;
  /** open connections in all */
  maxConnections: number;
  /** open connections from one address (not applied behind a trusted proxy, where all share one) */
  maxConnectionsPerAddress: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  headersMs: 15_000,
  bodyMs: 20_000,
  uploadIdleMs: 60_000,
  // below the usual 1024 open files, with room for SQLite, the platforms and the providers
  maxConnections: 600,
  maxConnectionsPerAddress: 100,
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** a large streamed body (a backup upload): a per-chunk idle limit instead of a total deadline */
    upload?: boolean;
  }
}

/** The options Fastify passes on to Node's HTTP server. */
export function serverOptions(limits: ConnectionLimits): Pick<FastifyServerOptions, 'keepAliveTimeout' | 'requestTimeout'> & { http: ServerOptions } {
  return {
    keepAliveTimeout: limits.headersMs,
    requestTimeout: 0, // the body deadline below does this job, without cutting long uploads
    http: { headersTimeout: limits.headersMs, connectionsCheckingInterval: Math.min(5000, limits.headersMs) },
  };
}

function timeoutError(message: string): Error & { statusCode: number; code: string } {
  return Object.assign(new Error(message), { statusCode: 408, code: 'THREADLOOM_BODY_TIMEOUT' });
}

/** A pass-through body stream that fails with 408 when the whole body takes longer than `bodyMs`. */
class DeadlineStream extends Transform {
  receivedEncodedLength = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(bodyMs: number) {
    super();
    const why = `the request body took longer than ${bodyMs / 1000} s; the connection was closed`;
    this.timer = setTimeout(() => this.destroy(timeoutError(why)), bodyMs).unref();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.receivedEncodedLength += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    clearTimeout(this.timer);
    done();
  }

  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    clearTimeout(this.timer);
    done(error);
  }
}

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/** Puts every request body behind a deadline; a cut connection is closed after its 408. */
export function registerBodyDeadlines(app: FastifyInstance, limits: ConnectionLimits): void {
  app.addHook('preParsing', async (request, reply, payload) => {
    if (!hasBody(request.headers)) return payload;
    if (request.routeOptions.config?.upload === true) {
      // @fastify/multipart reads request.raw itself, not a stream returned here (fastify-multipart
      // issue 620): time the socket instead — no data for uploadIdleMs closes it — until the answer is out
      const socket = request.raw.socket as Partial<Socket> | undefined;
      socket?.setTimeout?.(limits.uploadIdleMs, () => socket.destroy?.());
      reply.raw.once('finish', () => socket?.setTimeout?.(0));
      return payload;
    }
    const deadline = new DeadlineStream(limits.bodyMs);
    deadline.once('error', () => {
      reply.header('connection', 'close');
      // whatever the client still sends is not read: the socket goes once the 408 is out
      reply.raw.once('finish', () => request.raw.socket?.destroy());
      payload.unpipe(deadline);
      payload.resume();
    });
    payload.once('error', (error) => deadline.destroy(error));
    return payload.pipe(deadline);
  });
}

/** Caps open connections, in all and per address; a refused connection is closed at once. */
export function capConnections(server: Server, limits: ConnectionLimits, perAddress: boolean): void {
  server.maxConnections = limits.maxConnections;
  if (!perAddress) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = (open.get(address) ?? 0) + 1;
    if (count > limits.maxConnectionsPerAddress) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
