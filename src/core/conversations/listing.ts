import type { Db } from '../db/open.js';
import type { MessageRow } from './table.js';
import { addUtcDays } from '../format/utc.js';

/**
 * The admin's view over conversations: a filtered, paged list and the whole tree of one. The
 * chat's own reads and writes are in repository.ts; this is what a person browsing needs.
 */

export interface ConversationListFilter {
  /** '' for any */
  platform: string;
  /** an Experience slug, '' for any */
  experience: string;
  /** who started it or wrote in it: a platform user id, an identity `platform:id`, or a display name */
  user: string;
  /** YYYY-MM-DD (UTC), '' for open */
  from: string;
  to: string;
}

export interface ConversationListRow {
  id: number;
  title: string | null;
  platform: string;
  channel_id: string;
  thread_id: string;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
  experience_name: string;
  experience_slug: string;
  message_count: number;
}

/** One page of conversations, newest activity first; `more` says whether another page follows. */
export async function listConversations(db: Db, filter: ConversationListFilter, page: { number: number; size: number }): Promise<{ rows: ConversationListRow[]; more: boolean }> {
  const rows = await db
    .selectFrom('conversations as c')
    .innerJoin('experiences as e', 'e.id', 'c.experience_id')
    .select(['c.id', 'c.title', 'c.platform', 'c.channel_id', 'c.thread_id', 'c.created_by', 'c.created_at', 'c.updated_at', 'c.archived_at', 'e.name as experience_name', 'e.slug as experience_slug'])
    .select((eb) => eb.selectFrom('messages as m').select((m) => m.fn.countAll<number>().as('n')).whereRef('m.conversation_id', '=', 'c.id').as('message_count'))
    .$if(filter.platform !== '', (qb) => qb.where('c.platform', '=', filter.platform))
    .$if(filter.experience !== '', (qb) => qb.where('e.slug', '=', filter.experience))
    .$if(filter.user !== '', (qb) =>
      qb.where((eb) =>
        eb.or([
          eb('c.created_by', '=', filter.user),
          // lower() on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not
          eb(eb.fn('lower', ['c.created_by']), 'like', `%:${filter.user.replace(/[%_]/g, '').toLowerCase()}`),
          eb.exists(
            eb
              .selectFrom('messages as u')
              .select('u.id')
              .whereRef('u.conversation_id', '=', 'c.id')
              .where((w) => w.or([w('u.author_id', '=', filter.user), w('u.author_name', '=', filter.user)])),
          ),
        ]),
      ),
    )
    .$if(filter.from !== '', (qb) => qb.where('c.created_at', '>=', filter.from))
    .$if(filter.to !== '', (qb) => qb.where('c.created_at', '<', addUtcDays(filter.to, 1)))
    .orderBy('c.updated_at', 'desc')
    .orderBy('c.id', 'desc')
    .limit(page.size + 1)
    .offset((page.number - 1) * page.size)
    .execute();
  return { rows: rows.slice(0, page.size).map((r) => ({ ...r, message_count: Number(r.message_count ?? 0) })), more: rows.length > page.size };
}

/** The platforms that have conversations, for the filter's choices. */
export async function conversationPlatforms(db: Db): Promise<string[]> {
  return (await db.selectFrom('conversations').select('platform').distinct().orderBy('platform').execute()).map((r) => r.platform);
}

/** Every message of a conversation, all branches, oldest first, up to `limit`. */
export async function messagesOfConversation(db: Db, conversationId: number, limit: number): Promise<MessageRow[]> {
  return db.selectFrom('messages').selectAll().where('conversation_id', '=', conversationId).orderBy('id').limit(limit).execute();
}
