import type { Experience } from '../experiences/service.js';
import type { Source } from '../knowledge/retrieve.js';
import type { EngineDeps } from './deps.js';

/**
 * Step 4's retrieval: the Experience's documents that answer the question, numbered, within the
 * share of the prompt the Experience gives them. Knowledge that cannot be searched right now
 * (an embedding provider down) costs the answer its sources, never the answer.
 */
export async function sourcesForTurn(deps: EngineDeps, experience: Experience, questionId: number, user: { platform: string; id: string }): Promise<Source[]> {
  // most Experiences have no documents: their turns pay one indexed lookup, not a message read
  if (!deps.knowledge || !(await deps.knowledge.hasKnowledge(experience.id))) return [];
  const question = await deps.conversations.message(questionId);
  if (question.role !== 'user' || !question.content.trim()) return [];
  try {
    return await deps.knowledge.retrieve(experience.id, question.content, {
      maxTokens: experience.knowledge.maxTokens,
      limit: experience.knowledge.maxSources,
      asker: { platform: user.platform, userId: user.id },
    });
  } catch (err) {
    deps.log.warn('knowledge: retrieval failed; answering without sources', { error: err instanceof Error ? err.message : String(err), experience: experience.slug });
    return [];
  }
}
