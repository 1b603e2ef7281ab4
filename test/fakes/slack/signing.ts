/**
 * HTTP delivery to the app's receiver, signed as Slack signs: `x-slack-signature` is
 * `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the signing secret, and
 * `x-slack-request-timestamp` is the Unix time in seconds.
 */
import { createHmac } from 'node:crypto';

export function sign(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SignedPostOptions {
  /** Unix seconds (default: now) */
  timestamp?: number;
  /** sign with the wrong secret */
  badSignature?: boolean;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface HttpAnswer {
  status: number;
  /** the response body: parsed JSON, else the text ('' when empty) */
  body: unknown;
}

export async function signedPost(secret: string, url: string, body: string, options: SignedPostOptions = {}): Promise<HttpAnswer> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = sign(options.badSignature ? `${secret}-wrong` : secret, timestamp, body);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      // Bolt compares the content type exactly: a `; charset=…` suffix would make it parse forms as JSON
      'content-type': options.contentType ?? 'application/json',
      'x-slack-signature': signature,
      'x-slack-request-timestamp': String(timestamp),
      ...options.headers,
    },
    body,
  });
  const text = await response.text();
  let parsed: unknown = text;
  if (text && (response.headers.get('content-type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: response.status, body: parsed };
}
