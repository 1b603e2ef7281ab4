import type { Db } from '../db/open.js';
import { userKey } from '../identity.js';

/** The one place that reads `users`: display names and roles of the people the bots have met. */

export interface KnownUser {
  platform: string;
  userId: string;
  name: string | null;
  role: string;
}

/** The users with these platform user ids (on any platform: callers match the platform too). */
export async function usersByIds(db: Db, userIds: readonly string[]): Promise<KnownUser[]> {
  const ids = [...new Set(userIds)];
  if (!ids.length) return [];
  const rows = await db.selectFrom('users').select(['platform', 'platform_user_id', 'name', 'role']).where('platform_user_id', 'in', ids).execute();
  return rows.map((r) => ({ platform: r.platform, userId: r.platform_user_id, name: r.name, role: r.role }));
}

/** Display names by identity (`platform:userId`), for those that have one. */
export async function displayNames(db: Db, userIds: readonly string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const user of await usersByIds(db, userIds)) if (user.name) names.set(userKey(user.platform, user.userId), user.name);
  return names;
}
