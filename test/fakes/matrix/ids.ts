/** Ids and tokens shaped like Synapse's: `$<43 chars>` events, `!<18 letters>:server` rooms. */
import { randomBytes } from 'node:crypto';

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

function letters(count: number): string {
  const bytes = randomBytes(count);
  let out = '';
  for (const byte of bytes) out += LETTERS[byte % LETTERS.length];
  return out;
}

/** A room-version-4+ event id: url-safe base64 of a hash. */
export const eventId = (): string => `$${randomBytes(32).toString('base64url')}`;
export const roomId = (serverName: string): string => `!${letters(18)}:${serverName}`;
export const deviceId = (): string => letters(10).toUpperCase();
export const accessToken = (): string => `syt_${randomBytes(24).toString('base64url')}`;
export const mediaId = (): string => letters(24);
export const filterId = (n: number): string => String(n);

/** `@alice:localhost` → `alice` */
export const localpartOf = (userId: string): string => userId.replace(/^@/, '').split(':')[0]!;
