import { bindChannel, bindingAt } from '../bindings/repository.js';
import type { ChatPlace, Greeting } from '../inbound.js';
import type { EngineDeps } from './deps.js';

/**
 * The few questions an adapter asks the core besides "handle this", answered from the database
 * here so that no adapter reads it.
 */

export async function isBound(deps: EngineDeps, platform: string, channelId: string): Promise<boolean> {
  return (await bindingAt(deps.db, platform, channelId)) !== undefined;
}

/** Places of this platform's conversations active since `since` (a catch-up after a restart reads them). */
export async function activePlaces(deps: EngineDeps, platform: string, since: Date, limit: number): Promise<ChatPlace[]> {
  const rows = await deps.db
    .selectFrom('conversations')
    .select(['channel_id', 'thread_id'])
    .distinct()
    .where('platform', '=', platform)
    .where('archived_at', 'is', null)
    .where('updated_at', '>=', since.toISOString())
    .limit(limit)
    .execute();
  return rows.map((r) => ({ channelId: r.channel_id, threadId: r.thread_id || null }));
}

/** Is this thread one a conversation lives in (its root is the question that opened it)? */
export async function isConversationThread(deps: EngineDeps, platform: string, channelId: string, threadId: string): Promise<boolean> {
  const row = await deps.db
    .selectFrom('conversations')
    .select('id')
    .where('platform', '=', platform)
    .where('channel_id', '=', channelId)
    .where('thread_id', '=', threadId)
    .executeTakeFirst();
  return row !== undefined;
}

/** What a new assistant thread offers: the default Experience's persona and its starter prompts. */
export async function greeting(deps: EngineDeps): Promise<Greeting> {
  const experience = await deps.experiences.defaultExperience();
  return { personaName: experience.personaName, prompts: experience.starterPrompts };
}

/** Names to suggest while a command's argument is typed. */
export async function suggestions(deps: EngineDeps, kind: 'model' | 'experience'): Promise<string[]> {
  if (kind === 'experience') return (await deps.experiences.list()).map((e) => e.slug);
  return (await deps.catalog.list()).models.map((m) => m.id);
}

/** Binds a place to an Experience (the console's chat with `--experience`); returns its names. */
export async function useExperience(deps: EngineDeps, platform: string, channelId: string, slug: string): Promise<{ name: string; slug: string }> {
  const experience = await deps.experiences.require(slug);
  const current = await bindingAt(deps.db, platform, channelId);
  await bindChannel(deps.db, { platform, channelId, experienceId: experience.id, modelOverride: current?.model_override ?? null });
  return { name: experience.name, slug: experience.slug };
}
