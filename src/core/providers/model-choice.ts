import type { ConversationRow } from '../db/types.js';
import { modelDefaults } from '../settings.js';
import type { Experience } from '../experiences/service.js';
import type { EngineDeps } from './deps.js';

export type ModelSource = 'conversation' | 'binding' | 'experience' | 'default';

export interface ModelChoice {
  modelId: string;
  source: ModelSource;
  /** the chosen model, then the one it overrides (if any), then the Experience's fallbacks */
  candidates: string[];
}

/** conversation override → channel binding → Experience → global default. */
export async function chooseModel(deps: EngineDeps, conversation: ConversationRow, experience: Experience): Promise<ModelChoice> {
  const binding = await deps.db
    .selectFrom('bindings')
    .select('model_override')
    .where('platform', '=', conversation.platform)
    .where('channel_id', '=', conversation.channel_id)
    .executeTakeFirst();
  // the global default and fallbacks set in the admin web win over the config file's
  const defaults = await modelDefaults(deps.db, deps.config);
  const layers: Array<[string | null | undefined, ModelSource]> = [
    [conversation.model_override, 'conversation'],
    [binding?.model_override, 'binding'],
    [experience.model, 'experience'],
    [defaults.defaultModel, 'default'],
  ];
  const chosen = layers.findIndex(([model]) => Boolean(model));
  const [modelId, source] = layers[chosen] as [string, ModelSource];
  // an override sits on top of what would have been chosen without it, which stays next in line
  const overridden = source === 'conversation' || source === 'binding';
  const underneath = overridden ? layers.slice(chosen + 1).find(([model]) => Boolean(model))?.[0] : undefined;
  const candidates = [modelId, ...(underneath ? [underneath] : []), ...experience.fallbackModels, ...defaults.fallbacks];
  return { modelId, source, candidates: [...new Set(candidates)] };
}
