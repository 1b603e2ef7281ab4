/**
 * A person across Threadloom is `platform:userId` — `discord:123456789012345678`, `slack:U024BE7LH`,
 * `matrix:@ada:example.org` — the form that config admins, budgets, grants, the audit log and
 * conversation owners use. Only the first colon separates: Matrix ids hold colons of their own.
 */

export interface UserIdentity {
  platform: string;
  userId: string;
}

export function userKey(platform: string, userId: string): string {
  return `${platform}:${userId}`;
}

/** The key of whoever sent an event. */
export function authorKey(event: { platform: string; author: { id: string } }): string {
  return userKey(event.platform, event.author.id);
}

/** `matrix:@ada:example.org` → { platform: 'matrix', userId: '@ada:example.org' }; null when either part is empty. */
export function parseUserKey(key: string): UserIdentity | null {
  const colon = key.indexOf(':');
  return colon > 0 && colon < key.length - 1 ? { platform: key.slice(0, colon), userId: key.slice(colon + 1) } : null;
}
