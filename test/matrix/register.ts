import { createHmac } from 'node:crypto';

export interface RegisteredUser {
  userId: string;
  accessToken: string;
  deviceId: string;
}

/**
 * Registers a user on a Synapse homeserver through the shared-secret admin API
 * (`/_synapse/admin/v1/register`): GET a nonce, then POST with an HMAC-SHA1 over
 * `nonce\0username\0password\0admin|notadmin` keyed by `registration_shared_secret`.
 */
export async function registerUser(
  baseUrl: string,
  sharedSecret: string,
  username: string,
  password: string,
  admin = false,
): Promise<RegisteredUser> {
  const url = `${baseUrl.replace(/\/+$/, '')}/_synapse/admin/v1/register`;

  const nonceRes = await fetch(url);
  if (!nonceRes.ok) {
    throw new Error(`GET ${url} failed: ${nonceRes.status} ${await nonceRes.text()}`);
  }
  const { nonce } = (await nonceRes.json()) as { nonce: string };

  const mac = createHmac('sha1', sharedSecret)
    .update(nonce)
    .update('\0')
    .update(username)
    .update('\0')
    .update(password)
    .update('\0')
    .update(admin ? 'admin' : 'notadmin')
    .digest('hex');

  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ nonce, username, password, admin, mac }),
  });
  const body = (await res.json().catch(() => ({}))) as {
    user_id?: string;
    access_token?: string;
    device_id?: string;
    errcode?: string;
    error?: string;
  };
  if (!res.ok || !body.user_id || !body.access_token || !body.device_id) {
    throw new Error(
      `register ${username} failed: ${res.status} ${body.errcode ?? ''} ${body.error ?? JSON.stringify(body)}`,
    );
  }
  return { userId: body.user_id, accessToken: body.access_token, deviceId: body.device_id };
}
