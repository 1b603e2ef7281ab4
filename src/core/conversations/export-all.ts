import type { Db } from '../db/open.js';
import { toExperience, toSpec } from '../experiences/service.js';
import { exportedMessage } from './export.js';

const PAGE = 200;

/**
 * Everything Threadloom keeps of its chats, as one JSON document: every Experience (as importable
 * specs) and every conversation with all of its messages, every branch included (`parentId` makes
 * the tree). Written in pieces, a page of conversations at a time, so a large database is never
 * held in memory.
 */
export async function writeFullExport(db: Db, write: (chunk: string) => void | Promise<void>, now: Date): Promise<{ experiences: number; conversations: number; messages: number }> {
  const experiences = (await db.selectFrom('experiences').selectAll().orderBy('id').execute()).map(toExperience);
  const slugs = new Map(experiences.map((e) => [e.id, e.slug]));
  await write(`{\n"format": "threadloom-export/1",\n"exportedAt": ${JSON.stringify(now.toISOString())},\n`);
  await write(`"experiences": ${JSON.stringify(experiences.map((e) => ({ ...toSpec(e), archived: e.archivedAt !== null })))},\n"conversations": [\n`);
  let conversations = 0;
  let messages = 0;
  let after = 0;
  for (;;) {
    const page = await db.selectFrom('conversations').selectAll().where('id', '>', after).orderBy('id').limit(PAGE).execute();
    if (page.length === 0) break;
    for (const c of page) {
      const rows = await db.selectFrom('messages').selectAll().where('conversation_id', '=', c.id).orderBy('id').execute();
      const item = {
        id: c.id,
        title: c.title,
        platform: c.platform,
        channelId: c.channel_id,
        threadId: c.thread_id,
        experience: slugs.get(c.experience_id) ?? null,
        activeLeafId: c.active_leaf_id,
        createdAt: c.created_at,
        messages: rows.map(exportedMessage),
      };
      await write(`${conversations === 0 ? '' : ',\n'}${JSON.stringify(item)}`);
      conversations++;
      messages += rows.length;
    }
    after = page[page.length - 1]!.id;
  }
  await write('\n]\n}\n');
  return { experiences: experiences.length, conversations, messages };
}
