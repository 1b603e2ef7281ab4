import type { ConversationRow } from '../conversations/table.js';
import type { Experience } from '../experiences/service.js';
import type { Inbound } from '../inbound.js';
import type { EngineDeps } from './deps.js';
import { bindingAt } from '../bindings/repository.js';
import { nodeForPlatformMessage } from '../conversations/platform-messages.js';

/** The Experience bound to a channel, else the default one. */
export async function experienceForChannel(deps: EngineDeps, platform: string, channelId: string): Promise<Experience> {
  const binding = await bindingAt(deps.db, platform, channelId);
  if (binding) {
    const bound = await deps.experiences.getById(binding.experience_id);
    if (bound && !bound.archivedAt) return bound;
  }
  return deps.experiences.defaultExperience();
}

/**
 * The running conversation this message belongs to: the one its reply points into, else (unless
 * `byPlace` is false) the one of its thread, channel or DM. Null when there is none yet.
 */
export async function findConversationFor(deps: EngineDeps, inbound: Inbound, options: { byPlace?: boolean } = {}): Promise<ConversationRow | null> {
  if (inbound.replyTo) {
    const node = await nodeForPlatformMessage(deps.db, inbound.platform, inbound.replyTo);
    if (node) {
      const conversation = await deps.conversations.get(node.conversation_id);
      if (!conversation.archived_at) return conversation;
    }
  }
  if (options.byPlace === false) return null;
  return (await deps.conversations.findActive({ platform: inbound.platform, channelId: inbound.channelId, threadId: inbound.threadId })) ?? null;
}
