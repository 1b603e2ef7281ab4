import type { FastifyReply } from 'fastify';

/**
 * Server-sent events over Fastify's raw reply, for long work shown live (an Ollama pull, a
 * backup, a "try it" answer). Each `send` is one event; htmx's SSE extension swaps an unnamed
 * event's data into the target, so the data is usually a rendered partial. Events leave in the
 * order they were sent even when rendering them takes a while, and `close` waits for them. The
 * stream notices the browser leaving (`signal`) so the work behind it can stop.
 */
export interface SseStream {
  /** queues one event; `data` may be a promise (a partial being rendered). Resolves false once the client has gone or the data failed (never rejects) */
  send(data: string | Promise<string>, options?: { event?: string; id?: string }): Promise<boolean>;
  /** ends the stream after the queued events (idempotent) */
  close(): Promise<void>;
  /** the client went away, or the stream was closed */
  readonly closed: boolean;
  /** aborted when the client goes away (or after close) */
  readonly signal: AbortSignal;
}

const HEARTBEAT_MS = 15_000;

/** One SSE field per line: a value with line breaks becomes several `data:` lines. */
export function sseEvent(data: string, options: { event?: string; id?: string } = {}): string {
  const single = (value: string): string => value.replace(/[\r\n]+/g, ' ');
  let text = '';
  if (options.event) text += `event: ${single(options.event)}\n`;
  if (options.id) text += `id: ${single(options.id)}\n`;
  for (const line of data.replace(/\n+$/, '').split(/\r\n|\r|\n/)) text += `data: ${line}\n`;
  return `${text}\n`;
}

/** The events of an SSE body, as a client reads them (tests, and anything that replays a stream). */
export function readSseEvents(text: string): Array<{ event: string; data: string }> {
  const events: Array<{ event: string; data: string }> = [];
  for (const block of text.split(/\n\n/)) {
    const lines = block.split('\n').filter((line) => line !== '' && !line.startsWith(':'));
    if (lines.length === 0) continue;
    const event = lines.find((line) => line.startsWith('event:'))?.slice(6).trim() ?? 'message';
    const data = lines.filter((line) => line.startsWith('data:')).map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
    events.push({ event, data: data.join('\n') });
  }
  return events;
}

export function startSse(reply: FastifyReply, options: { heartbeatMs?: number; onError?: (err: unknown) => void } = {}): SseStream {
  const controller = new AbortController();
  const raw = reply.raw;
  // headers set by hooks so far (cookies) still go out after the hijack
  const headers: Record<string, string | number | string[]> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value as string | number | string[];
  reply.hijack();
  raw.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-content-type-options': 'nosniff',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.flushHeaders?.();

  let ended = false;
  let queue: Promise<unknown> = Promise.resolve();
  const heartbeat = setInterval(() => {
    if (!ended) raw.write(': keep-alive\n\n');
  }, options.heartbeatMs ?? HEARTBEAT_MS);
  heartbeat.unref();

  const finish = (): void => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    controller.abort();
  };
  // the response's own close: the end we sent, or the connection dropping (the request's 'close'
  // fires as soon as its body has been read, so it says nothing about the client)
  raw.once('close', finish);

  const gone = (): boolean => ended || raw.destroyed || raw.writableEnded;

  return {
    send(data, sendOptions) {
      const sent = queue.then(async () => {
        let text: string;
        try {
          text = await data;
        } catch (err) {
          options.onError?.(err);
          return false;
        }
        if (gone()) return false;
        raw.write(sseEvent(text, sendOptions));
        return true;
      });
      queue = sent;
      return sent;
    },
    async close() {
      await queue;
      if (!raw.writableEnded) raw.end();
      finish();
    },
    get closed() {
      return gone();
    },
    signal: controller.signal,
  };
}
