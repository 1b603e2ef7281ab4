/**
 * The fake gateway: HELLO, IDENTIFY → READY + GUILD_CREATE per guild, heartbeat ACKs, RESUME with
 * replay of the dispatches the client missed, plain JSON only (no zlib). Sharded as Discord is:
 * IDENTIFY carries `shard: [id, count]` ([0, 1] when absent), a guild's events go to the session
 * whose shard is `(guild_id >> 22) % count`, DMs to shard 0, and READY lists that shard's guilds.
 */
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { DropOptions } from './types.js';

export interface Dispatch {
  s: number;
  t: string;
  d: unknown;
}

/** `[id, count]` as IDENTIFY and READY carry it */
export type Shard = [id: number, count: number];

/** The shard of `guildId` among `count` (Discord's formula); DMs (no guild) are shard 0's. */
export function shardOf(guildId: string | null | undefined, count: number): number {
  return guildId ? Number((BigInt(guildId) >> 22n) % BigInt(count)) : 0;
}

/** The guild a dispatch belongs to: a guild event's own id, any other event's `guild_id`. */
function guildOf(t: string, d: any): string | null {
  if (t === 'GUILD_CREATE' || t === 'GUILD_UPDATE' || t === 'GUILD_DELETE') return d?.id ?? null;
  return d?.guild_id ?? null;
}

export interface Session {
  id: string;
  shard: Shard;
  seq: number;
  intents: number;
  log: Dispatch[];
  socket: WebSocket | null;
  redeliver: number;
}

export interface GatewayHooks {
  /** READY `d` for a new session of `shard` */
  ready(sessionId: string, shard: Shard): Record<string, unknown>;
  /** GUILD_CREATE payloads sent right after READY (this shard's guilds) */
  guildCreates(shard: Shard): Record<string, unknown>[];
}

export class FakeGateway {
  readonly identifies: any[] = [];
  /** every dispatch of every session, in order (`s` restarts at 1 for each new session) */
  readonly dispatched: Dispatch[] = [];
  connections = 0;
  url = '';
  private readonly wss = new WebSocketServer({ noServer: true });
  /** the live session of each shard, by `id/count` (a new IDENTIFY for a shard supersedes its old one) */
  private readonly current = new Map<string, Session>();
  private readonly sessions = new Map<string, Session>();
  private waiters: Array<(how: 'ready' | 'resumed') => void> = [];

  constructor(
    private readonly hooks: GatewayHooks,
    private readonly heartbeatIntervalMs: number,
    private readonly token: string | undefined,
  ) {
    this.wss.on('connection', (ws) => this.onConnection(ws));
  }

  /** The session tests act on by default: shard 0's (the only one unless the client shards), else the newest. */
  private get session(): Session | null {
    const live = [...this.current.values()];
    return live.find((s) => s.shard[0] === 0) ?? live.at(-1) ?? null;
  }

  /** intents of the current session (0 before IDENTIFY) */
  get intents(): number {
    return this.session?.intents ?? 0;
  }

  get hasSession(): boolean {
    return this.current.size > 0;
  }

  get connected(): boolean {
    return this.session?.socket?.readyState === WebSocket.OPEN;
  }

  /** `[id, count]` of every session with an open socket now (a shard twice: two clients hold it) */
  get connectedShards(): Shard[] {
    return [...this.sessions.values()].filter((s) => s.socket?.readyState === WebSocket.OPEN).map((s) => [...s.shard] as Shard);
  }

  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    if (query.get('encoding') === 'etf' || query.has('compress')) {
      socket.destroy(); // only plain JSON here
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  /** The live sessions that receive events of `guildId` (null: a DM, shard 0's). */
  sessionsFor(guildId: string | null): Session[] {
    return [...this.current.values()].filter((s) => shardOf(guildId, s.shard[1]) === s.shard[0]);
  }

  /**
   * Sends a dispatch to the session of the shard it belongs to (buffered for RESUME while that one
   * is disconnected; dropped when no session has that shard, as on Discord); returns its seq.
   */
  dispatch(t: string, d: unknown): number {
    if (!this.hasSession) throw new Error('fake discord: no gateway session yet (the client has not identified)');
    let seq = 0;
    for (const session of this.sessionsFor(guildOf(t, d))) seq = this.dispatchTo(session, t, d);
    return seq;
  }

  /** Sends a dispatch on one session (buffered for RESUME when disconnected); returns its seq. */
  dispatchTo(session: Session, t: string, d: unknown): number {
    const entry = { s: ++session.seq, t, d };
    session.log.push(entry);
    this.dispatched.push(entry);
    this.sendRaw(session.socket, { op: 0, ...entry });
    return entry.s;
  }

  /** Sends a raw gateway payload (e.g. op 7 RECONNECT, op 9 INVALID_SESSION) on the current socket. */
  send(op: number, d: unknown = null): void {
    this.sendRaw(this.session?.socket ?? null, { op, d, s: null, t: null });
  }

  /** Closes the current socket; resolves once it is closed. */
  async drop(options: DropOptions = {}): Promise<void> {
    const session = this.session;
    const socket = session?.socket;
    if (!session || !socket || socket.readyState !== WebSocket.OPEN) throw new Error('fake discord: no open gateway connection');
    session.redeliver = options.redeliver ?? 0;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    if (options.code === 1006) socket.terminate();
    else socket.close(options.code ?? 4000, 'fake discord: dropped');
    await closed;
  }

  /** Resolves at the next READY or RESUMED the fake sends. */
  nextSession(): Promise<'ready' | 'resumed'> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private sendRaw(socket: WebSocket | null, payload: unknown): void {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(payload));
  }

  private settle(how: 'ready' | 'resumed'): void {
    const waiters = this.waiters.splice(0);
    for (const resolve of waiters) resolve(how);
  }

  private onConnection(ws: WebSocket): void {
    this.connections++;
    let authenticated = false;
    ws.on('close', () => {
      for (const s of this.sessions.values()) if (s.socket === ws) s.socket = null;
    });
    ws.on('message', (raw) => {
      let payload: { op: number; d: any };
      try {
        payload = JSON.parse(raw.toString());
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      switch (payload.op) {
        case 1:
          this.sendRaw(ws, { op: 11, d: null, s: null, t: null });
          return;
        case 2:
        case 6: {
          if (authenticated) return ws.close(4005, 'Already authenticated.');
          if (this.token !== undefined && payload.d?.token !== this.token) return ws.close(4004, 'Authentication failed.');
          authenticated = true;
          return payload.op === 2 ? this.identify(ws, payload.d) : this.resume(ws, payload.d);
        }
        case 3: // presence update
        case 4: // voice state
        case 8: // request guild members
          if (!authenticated) ws.close(4003, 'Not authenticated.');
          return;
        default:
          ws.close(4001, 'Unknown opcode.');
      }
    });
    this.sendRaw(ws, { op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs }, s: null, t: null });
  }

  private identify(ws: WebSocket, d: any): void {
    const [id, count] = Array.isArray(d?.shard) ? d.shard.map(Number) : [0, 1];
    if (!Number.isInteger(id) || !Number.isInteger(count) || count < 1 || id < 0 || id >= count) return ws.close(4010, 'Invalid shard.');
    this.identifies.push(d);
    const key = `${id}/${count}`;
    const previous = this.current.get(key);
    if (previous?.socket && previous.socket !== ws) previous.socket.close(4000, 'superseded');
    const shard: Shard = [id, count];
    const session: Session = { id: randomBytes(16).toString('hex'), shard, seq: 0, intents: Number(d?.intents ?? 0), log: [], socket: ws, redeliver: 0 };
    this.sessions.set(session.id, session);
    this.current.set(key, session);
    this.dispatchTo(session, 'READY', this.hooks.ready(session.id, shard));
    for (const guild of this.hooks.guildCreates(shard)) this.dispatchTo(session, 'GUILD_CREATE', guild);
    this.settle('ready');
  }

  private resume(ws: WebSocket, d: any): void {
    const session = this.sessions.get(String(d?.session_id));
    if (!session || session !== this.current.get(`${session.shard[0]}/${session.shard[1]}`)) {
      this.sendRaw(ws, { op: 9, d: false, s: null, t: null });
      return;
    }
    if (session.socket && session.socket !== ws) session.socket.close(4000, 'superseded');
    session.socket = ws;
    const from = Number(d?.seq ?? 0) - session.redeliver;
    session.redeliver = 0;
    for (const entry of session.log) if (entry.s > from) this.sendRaw(ws, { op: 0, ...entry });
    this.dispatchTo(session, 'RESUMED', null);
    this.settle('resumed');
  }
}
