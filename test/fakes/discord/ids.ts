/** Snowflake-like ids (strictly increasing across every fake in the process) and tokens. */
import { randomBytes } from 'node:crypto';

export const DISCORD_EPOCH = 1_420_070_400_000n;
let last = 0n;

/** A new snowflake: ms since the Discord epoch shifted left 22 bits, bumped to stay increasing. */
export function snowflake(): string {
  let id = (BigInt(Date.now()) - DISCORD_EPOCH) << 22n;
  if (id <= last) id = last + 1n;
  last = id;
  return id.toString();
}

/** ISO timestamp encoded in a snowflake. */
export function snowflakeTime(id: string): string {
  return new Date(Number((BigInt(id) >> 22n) + DISCORD_EPOCH)).toISOString();
}

/** An opaque token like Discord's interaction tokens. */
export function token(): string {
  return `aW50ZXJhY3Rpb246${randomBytes(48).toString('base64url')}`;
}
