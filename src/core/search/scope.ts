import type { Inbound } from '../inbound.js';
import type { EngineDeps } from '../turns/deps.js';
import { experienceForChannel, findConversationFor } from '../turns/places.js';
import type { PlatformDirectory } from './directory.js';
import type { VectorFilter } from './search-index.js';

export interface ChatScope {
  filter: VectorFilter;
  /** "this Experience (Homelab)", "everything you can see", ... */
  label: string;
  /** why the scope is narrower than asked, to tell the user */
  narrowed: string | null;
}

/**
 * What a chat user may search: their own platform only, and there only channels they can read
 * now (asked of the platform's directory; without one, conversations they wrote in). An answer
 * that others in the channel would see (no private replies here) searches this channel only,
 * so nobody learns what another channel said by reading over a shoulder.
 */
export async function chatScope(
  deps: EngineDeps,
  inbound: Inbound,
  directory: PlatformDirectory | undefined,
  options: { all: boolean; answeredPrivately: boolean },
): Promise<ChatScope> {
  const filter: VectorFilter = { platform: inbound.platform };
  let label = 'everything you can see here';
  if (!options.all) {
    const conversation = await findConversationFor(deps, inbound);
    const experience = conversation
      ? await deps.experiences.getById(conversation.experience_id)
      : await experienceForChannel(deps, inbound.platform, inbound.channelId);
    if (experience) {
      filter.experienceIds = [experience.id];
      label = `the ${experience.name} Experience`;
    }
  }
  if (!options.answeredPrivately && !inbound.isDirect) {
    return {
      filter: { ...filter, channelIds: [inbound.channelId] },
      label: `${label}, in this channel`,
      narrowed: 'Only this channel was searched, because everyone here can read this answer. Ask in a direct message to search everywhere you can see.',
    };
  }
  let channels = deps.db.selectFrom('conversations').select('channel_id').distinct().where('platform', '=', inbound.platform);
  if (filter.experienceIds) channels = channels.where('experience_id', 'in', filter.experienceIds);
  const known = (await channels.execute()).map((r) => r.channel_id);
  if (directory) {
    const visible = known.length ? await directory.visibleChannels(inbound.author.id, known) : new Set<string>();
    return { filter: { ...filter, channelIds: [...visible] }, label, narrowed: null };
  }
  // no way to ask the platform who may read what: only conversations this user took part in
  let mine = deps.db
    .selectFrom('conversations as c')
    .select('c.id')
    .where('c.platform', '=', inbound.platform)
    .where((eb) => eb.or([
      eb('c.created_by', '=', inbound.author.id),
      eb.exists(eb.selectFrom('messages as m').select('m.id').whereRef('m.conversation_id', '=', 'c.id').where('m.author_id', '=', inbound.author.id)),
    ]));
  if (filter.experienceIds) mine = mine.where('c.experience_id', 'in', filter.experienceIds);
  return { filter: { ...filter, conversationIds: (await mine.execute()).map((r) => r.id) }, label: `${label} (conversations you took part in)`, narrowed: null };
}
