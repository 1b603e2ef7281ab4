import { bindingAt } from '../bindings/repository.js';
import type { Config } from '../config.js';
import type { Db } from '../db/open.js';
import type { ConversationRow } from '../conversations/table.js';
import type { Experience } from '../experiences/service.js';
import { modelDefaults } from '../settings.js';

export type ModelSource = 'conversation' | 'binding' | 'experience' | 'default';

export interface ModelChoice {
  modelId: string;
  source: ModelSource;
  /** the chosen model, then the one it overrides (if any), then the Experience's fallbacks */
  candidates: string[];
}

/** conversation override → channel binding → Experience → global default. */
export async function chooseModel(deps: { db: Db; config: Config }, conversation: ConversationRow, experience: Experience): Promise<ModelChoice> {
  const binding = await bindingAt(deps.db, conversation.platform, conversation.channel_id);
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
