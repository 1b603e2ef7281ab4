import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminContext, startAdmin, type RunningAdmin } from '../../src/admin/index.js';
import type { ConnectionLimits } from '../../src/admin/limits.js';
import { ADMIN_PASSWORD } from '../support/admin.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

/**
 * Slow and many connections against the real listening admin web: a client that trickles its
 * headers or its body is cut with a 408, one address cannot hold every connection, and others
 * are still answered meanwhile.
 */

const LIMITS: ConnectionLimits = { headersMs: 1500, bodyMs: 1500, uploadIdleMs: 1500, maxConnections: 50, maxConnectionsPerAddress: 6 };

let rt: TestRuntime;
let admin: RunningAdmin;
let port: number;

beforeAll(async () => {
  rt = await startTestRuntime();
  admin = await startAdmin(adminContext(rt, { password: ADMIN_PASSWORD }), { host: '127.0.0.1', port: 0, limits: LIMITS });
  port = Number(new URL(admin.url).port);
});

afterAll(async () => {
  await admin.close();
  await rt.shutdown();
});

interface Peer {
  socket: net.Socket;
  /** everything the server sent */
  received(): string;
  /** resolves when the server has closed the connection */
  closed: Promise<void>;
}

function connect(localAddress = '127.0.0.1'): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined); // a reset is one way of being cut
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('connect', () => resolve({ socket, received: () => text, closed }));
    socket.once('error', reject);
  });
}

/** Writes one byte every `everyMs` until the socket closes; returns a stop function. */
function trickle(peer: Peer, everyMs: number, byte = 'a'): () => void {
  const timer = setInterval(() => {
    if (!peer.socket.destroyed) peer.socket.write(byte);
  }, everyMs);
  peer.closed.then(() => clearInterval(timer));
  return () => clearInterval(timer);
}

async function healthz(localAddress?: string): Promise<string> {
  const peer = await connect(localAddress);
  // not end(): a half-closed socket may be dropped before an answer that takes a moment
  peer.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await peer.closed;
  return peer.received();
}

describe('slow clients', () => {
  it('should cut a client that trickles its body with a 408, and keep answering others meanwhile', async () => {
    const slow = await connect();
    slow.socket.write('POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n');
    const stop = trickle(slow, 100);
    expect(await healthz()).toMatch(/^HTTP\/1\.1 200/);
    await slow.closed;
    stop();
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('should cut a client that trickles its headers', async () => {
    const slow = await connect();
    slow.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const stop = trickle(slow, 100, 'X');
    await slow.closed;
    stop();
    expect(slow.received()).toMatch(/^$|^HTTP\/1\.1 408/);
  });

  it('should close a connection that never sends a request', async () => {
    const idle = await connect();
    await idle.closed;
    expect(idle.received()).toMatch(/^$|^HTTP\/1\.1 408/);
  });
});

describe('many connections', () => {
  it('should refuse connections from one address past its cap, and still answer another address', async () => {
    const held = await Promise.all(Array.from({ length: LIMITS.maxConnectionsPerAddress }, () => connect('127.0.0.3')));
    const extra = await connect('127.0.0.3');
    await extra.closed; // closed at once, before any timeout
    expect(held.every((p) => !p.socket.destroyed)).toBe(true);
    expect(await healthz('127.0.0.4')).toMatch(/^HTTP\/1\.1 200/);
    for (const peer of held) peer.socket.destroy();
  });
});
