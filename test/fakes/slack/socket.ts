/**
 * Socket Mode: `apps.connections.open` hands out one-time tickets for `ws://…/socket?ticket=…`;
 * each connection gets `hello`, then envelopes go to the newest open connection (queued while none
 * is open). The app answers each envelope with `{ envelope_id, payload? }`; those acks are
 * recorded and wake whoever waits for them.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Json } from './types.js';

interface Waiter {
  resolve(payload: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class SocketSide {
  readonly wss = new WebSocketServer({ noServer: true });
  /** every message the app sent over a socket (acks and anything else) */
  readonly received: Json[] = [];
  connections = 0;
  private readonly tickets = new Set<string>();
  private readonly open: WebSocket[] = [];
  private readonly queue: string[] = [];
  private readonly waiters = new Map<string, Waiter>();

  constructor(
    private readonly appId: string,
    private readonly onAck: (envelopeId: string, payload: unknown) => void,
  ) {}

  ticket(baseWsUrl: string): string {
    const ticket = randomUUID();
    this.tickets.add(ticket);
    return `${baseWsUrl}socket?ticket=${ticket}&app_id=${this.appId}`;
  }

  get connected(): number {
    return this.open.length;
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/socket' || !this.tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    this.connections += 1;
    this.open.push(ws);
    ws.on('message', (data) => {
      let message: Json;
      try {
        message = JSON.parse(String(data)) as Json;
      } catch {
        return;
      }
      this.received.push(message);
      if (typeof message.envelope_id === 'string') this.ack(message.envelope_id, message.payload);
    });
    ws.on('close', () => {
      const i = this.open.indexOf(ws);
      if (i >= 0) this.open.splice(i, 1);
    });
    ws.on('error', () => undefined);
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.open.length,
        debug_info: { host: 'applink-fake-1', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.appId },
      }),
    );
    for (const frame of this.queue.splice(0)) ws.send(frame);
  }

  private ack(envelopeId: string, payload: unknown): void {
    this.onAck(envelopeId, payload);
    const waiter = this.waiters.get(envelopeId);
    if (!waiter) return;
    this.waiters.delete(envelopeId);
    clearTimeout(waiter.timer);
    waiter.resolve(payload);
  }

  /** Sends an envelope; resolves with the ack's payload (rejects when none comes in `timeoutMs`). */
  deliver(envelope: Json, timeoutMs = 5_000): Promise<unknown> {
    const id = String(envelope.envelope_id);
    const acked = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`fake Slack: envelope ${id} (${String(envelope.type)}) was not acked within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
    });
    const frame = JSON.stringify(envelope);
    const ws = this.open[this.open.length - 1];
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(frame);
    else this.queue.push(frame);
    return acked;
  }

  /** Asks every connection to reconnect, as Slack does before recycling a server. */
  disconnect(reason: 'warning' | 'refresh_requested' | 'link_disabled' = 'refresh_requested'): void {
    for (const ws of this.open) ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-fake-1' } }));
  }

  /** Waits (up to `graceMs`) for the apps to close their sockets, then terminates the rest. */
  async close(graceMs = 1_000): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.open.some((ws) => ws.readyState !== WebSocket.CLOSED) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const ws of this.wss.clients) ws.terminate();
    for (const waiter of this.waiters.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('fake Slack closed'));
    }
    this.waiters.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
