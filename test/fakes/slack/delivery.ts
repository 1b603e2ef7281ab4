/**
 * Delivers what Slack sends to the app over the chosen transport: a Socket Mode envelope (acked
 * over the socket) or a signed POST to the receiver (`httpTarget`; the HTTP response is the ack).
 * Events are JSON; slash commands are form fields; interactions are a form with `payload=<json>`.
 * Every answer lands in `state.acks`.
 */
import { envelope, type EnvelopeType } from './payloads.js';
import { signedPost, type HttpAnswer, type SignedPostOptions } from './signing.js';
import type { SocketSide } from './socket.js';
import type { SlackState } from './state.js';
import type { AckRecord, Json, Transport } from './types.js';

export interface Retry {
  attempt: number;
  reason: string;
}

export class Delivery {
  transport: Transport = 'socket';
  httpTarget: string | undefined;
  /** event_callback bodies by `event_id` (for redelivery) */
  readonly events = new Map<string, Json>();
  /** failures of deliveries nobody awaited (no ack, receiver down, non-2xx) */
  readonly errors: Error[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly envelopes = new Map<string, { kind: EnvelopeType; eventId?: string }>();
  socket: SocketSide | undefined;

  constructor(private readonly state: SlackState) {}

  /** Called by the socket side for every ack. */
  onSocketAck(envelopeId: string, payload: unknown): void {
    const sent = this.envelopes.get(envelopeId);
    this.state.acks.push({
      transport: 'socket', kind: sent?.kind ?? 'events_api', envelopeId, ...(sent?.eventId ? { eventId: sent.eventId } : {}), payload: payload ?? null, at: Date.now(),
    });
  }

  async send(kind: EnvelopeType, payload: Json, retry?: Retry): Promise<AckRecord> {
    const eventId = typeof payload.event_id === 'string' ? payload.event_id : undefined;
    if (eventId && !this.events.has(eventId)) this.events.set(eventId, payload);
    if (this.transport === 'socket') {
      if (!this.socket) throw new Error('fake Slack: no socket side');
      const env = envelope(kind, payload, retry);
      const envelopeId = String(env.envelope_id);
      this.envelopes.set(envelopeId, { kind, ...(eventId ? { eventId } : {}) });
      await this.socket.deliver(env);
      const ack = this.state.acks.find((a) => a.envelopeId === envelopeId);
      if (!ack) throw new Error(`fake Slack: ack for ${envelopeId} not recorded`);
      return ack;
    }
    const answer = await this.post(kind, payload, retry);
    const ack: AckRecord = { transport: 'http', kind, ...(eventId ? { eventId } : {}), status: answer.status, payload: answer.body, at: Date.now() };
    this.state.acks.push(ack);
    if (answer.status < 200 || answer.status >= 300) throw new Error(`fake Slack: the receiver answered ${kind} with HTTP ${answer.status}`);
    return ack;
  }

  private post(kind: EnvelopeType, payload: Json, retry?: Retry): Promise<HttpAnswer> {
    const target = this.target();
    const headers = retry ? { 'x-slack-retry-num': String(retry.attempt), 'x-slack-retry-reason': retry.reason } : undefined;
    const form = 'application/x-www-form-urlencoded';
    const secret = this.state.id.signingSecret;
    if (kind === 'events_api') return signedPost(secret, target, JSON.stringify(payload), { ...(headers ? { headers } : {}) });
    const body = kind === 'slash_commands' ? new URLSearchParams(payload as Record<string, string>).toString() : new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    return signedPost(secret, target, body, { contentType: form, ...(headers ? { headers } : {}) });
  }

  private target(): string {
    if (!this.httpTarget) throw new Error('fake Slack: set httpTarget (the receiver URL) before delivering over HTTP');
    return this.httpTarget;
  }

  /** Delivers without waiting; failures are kept in `errors` (see `idle()`). */
  background(kind: EnvelopeType, payload: Json, retry?: Retry): Promise<AckRecord | undefined> {
    const p = this.send(kind, payload, retry).catch((error: unknown) => {
      this.errors.push(error instanceof Error ? error : new Error(String(error)));
      return undefined;
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }

  /** Resolves once every delivery under way has been answered (or failed). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Redelivers an event `times` times, as Slack does when it saw no timely answer. */
  async redeliver(eventId: string, times = 1): Promise<AckRecord[]> {
    const payload = this.events.get(eventId);
    if (!payload) throw new Error(`fake Slack: no event ${eventId} to redeliver`);
    const acks: AckRecord[] = [];
    for (let attempt = 1; attempt <= times; attempt++) {
      acks.push(await this.send('events_api', payload, { attempt, reason: this.transport === 'http' ? 'http_timeout' : 'timeout' }));
    }
    return acks;
  }

  /** A POST to `path` on the receiver (relative to `httpTarget`), signed unless told otherwise. */
  async signedPost(path: string, body: string | Json, options: SignedPostOptions = {}): Promise<number> {
    const url = new URL(path, this.target()).toString();
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return (await signedPost(this.state.id.signingSecret, url, text, options)).status;
  }
}
