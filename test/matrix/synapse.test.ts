import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SYNAPSE_SHARED_SECRET, SYNAPSE_URL } from './homeserver.js';
import { registerUser } from './register.js';

// Runs only against a real homeserver: start one with `bash test/matrix/synapse.sh start`
// and pass SYNAPSE_URL / SYNAPSE_SHARED_SECRET (see test/matrix/README.md).
const baseUrl = SYNAPSE_URL;
const sharedSecret = SYNAPSE_SHARED_SECRET;

interface MatrixEvent {
  type: string;
  sender: string;
  event_id: string;
  content: Record<string, unknown>;
}

async function api<T>(
  token: string,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${baseUrl}/_matrix/client/v3${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

describe.skipIf(!baseUrl)('real Synapse homeserver', () => {
  it('answers /_matrix/client/versions', async () => {
    const res = await fetch(`${baseUrl}/_matrix/client/versions`);
    expect(res.ok).toBe(true);
    const body = (await res.json()) as { versions: string[] };
    expect(body.versions.length).toBeGreaterThan(0);
  });

  it('lets one user create a room and post, and another join and read it', async () => {
    expect(sharedSecret, 'SYNAPSE_SHARED_SECRET must be set').not.toBe('');
    const suffix = randomBytes(4).toString('hex');
    const alice = await registerUser(baseUrl, sharedSecret, `alice_${suffix}`, 'pw-alice-123');
    const bob = await registerUser(baseUrl, sharedSecret, `bob_${suffix}`, 'pw-bob-123');
    expect(alice.userId).toMatch(new RegExp(`^@alice_${suffix}:`));
    expect(alice.accessToken).not.toBe('');
    expect(bob.deviceId).not.toBe('');

    const whoami = await api<{ user_id: string }>(bob.accessToken, 'GET', '/account/whoami');
    expect(whoami.user_id).toBe(bob.userId);

    const { room_id: roomId } = await api<{ room_id: string }>(alice.accessToken, 'POST', '/createRoom', {
      preset: 'public_chat',
      name: 'threadloom test',
    });
    expect(roomId).toMatch(/^!/);

    const text = `hello from alice ${suffix}`;
    const { event_id: eventId } = await api<{ event_id: string }>(
      alice.accessToken,
      'PUT',
      `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/txn-${suffix}`,
      { msgtype: 'm.text', body: text },
    );
    expect(eventId).toMatch(/^\$/);

    const joined = await api<{ room_id: string }>(bob.accessToken, 'POST', `/join/${encodeURIComponent(roomId)}`, {});
    expect(joined.room_id).toBe(roomId);

    const { chunk } = await api<{ chunk: MatrixEvent[] }>(
      bob.accessToken,
      'GET',
      `/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`,
    );
    const message = chunk.find((e) => e.event_id === eventId);
    expect(message).toMatchObject({
      type: 'm.room.message',
      sender: alice.userId,
      content: { msgtype: 'm.text', body: text },
    });

    // Bob's initial sync also sees the room and the message.
    const sync = await api<{ rooms?: { join?: Record<string, { timeline: { events: MatrixEvent[] } }> } }>(
      bob.accessToken,
      'GET',
      '/sync?timeout=0',
    );
    const timeline = sync.rooms?.join?.[roomId]?.timeline.events ?? [];
    expect(timeline.some((e) => e.event_id === eventId)).toBe(true);
  });
});
