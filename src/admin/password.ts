import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { getSetting, setSetting } from '../core/settings.js';
import type { AdminContext } from './context.js';

/**
 * The admin password, stored only as an scrypt hash in the settings table:
 * `scrypt$N$r$p$salt$hash` (base64url). THREADLOOM_ADMIN_PASSWORD wins over what is stored: when
 * it is set and the stored hash does not match it, the hash is replaced.
 */

export const PASSWORD_HASH_KEY = 'admin.password_hash';

const SCRYPT = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, options: ScryptOptions, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, SCRYPT, KEY_LENGTH);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) }, expected.length);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A password a person can type: 20 characters from an unambiguous alphabet (~100 bits). */
export function generatePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY3479';
  const bytes = randomBytes(20);
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

/**
 * Makes sure a password hash is stored. Returns the generated password when one had to be made
 * (first start without THREADLOOM_ADMIN_PASSWORD); it is printed once and never stored in clear.
 */
/** The password set from outside (THREADLOOM_ADMIN_PASSWORD or admin.password); it wins over a stored one. */
export function passwordFromEnvironment(ctx: AdminContext): string | undefined {
  return ctx.password ?? ctx.config.admin.password;
}

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/** Stores a new password's hash (the Settings page; the caller has checked the current one). */
export async function setAdminPassword(ctx: AdminContext, password: string): Promise<void> {
  if (passwordFromEnvironment(ctx)) throw new Error('the admin password is set by THREADLOOM_ADMIN_PASSWORD; it cannot be changed here');
  await setSetting(ctx.runtime.database.db, PASSWORD_HASH_KEY, await hashPassword(password));
}

export async function ensureAdminPassword(ctx: AdminContext): Promise<{ generated: string | null }> {
  const db = ctx.runtime.database.db;
  const fromEnv = passwordFromEnvironment(ctx);
  const stored = await getSetting(db, PASSWORD_HASH_KEY);
  if (fromEnv) {
    if (!stored || !(await verifyPassword(fromEnv, stored))) await setSetting(db, PASSWORD_HASH_KEY, await hashPassword(fromEnv));
    return { generated: null };
  }
  if (stored) return { generated: null };
  const generated = generatePassword();
  await setSetting(db, PASSWORD_HASH_KEY, await hashPassword(generated));
  return { generated };
}

export async function checkAdminPassword(ctx: AdminContext, password: string): Promise<boolean> {
  const stored = await getSetting(ctx.runtime.database.db, PASSWORD_HASH_KEY);
  return stored !== null && password.length > 0 && password.length <= MAX_PASSWORD_LENGTH && (await verifyPassword(password, stored));
}
