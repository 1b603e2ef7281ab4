import { estimateTokens } from '../context/tokens.js';
import type { Experience } from '../experiences/service.js';
import type { ModelChoice } from '../providers/model-choice.js';
import type { OfferedTool } from '../tools/registry.js';
import type { EngineDeps } from './deps.js';
import type { TurnNotice } from './notices.js';

export interface TurnTools {
  offered: OfferedTool[];
  /** the candidates that can call tools, when tools are offered */
  choice: ModelChoice;
  /** what the tools' descriptions and schemas take of the prompt */
  tokens: number;
  notice: TurnNotice | null;
}

/**
 * The tools a turn offers (the Experience's policy over what the sources have now), and the
 * models that may answer with them: only those that can call tools, the chosen one first.
 */
export async function toolsForTurn(deps: EngineDeps, experience: Experience, choice: ModelChoice, where: { canAsk: boolean }): Promise<TurnTools> {
  // where nobody can be asked (an API client), a tool that needs a yes is not offered at all
  const offered = (deps.tools?.offered(experience.tools) ?? []).filter((o) => where.canAsk || o.mode === 'auto');
  if (offered.length === 0) return { offered, choice, tokens: 0, notice: null };
  const able: string[] = [];
  for (const modelId of choice.candidates) {
    if ((await deps.catalog.capabilities(modelId)).tools) able.push(modelId);
  }
  if (able.length === 0) {
    return { offered: [], choice, tokens: 0, notice: { kind: 'no-tool-model', models: choice.candidates } };
  }
  const tokens = offered.reduce((sum, { tool }) => sum + estimateTokens(`${tool.name} ${tool.description} ${JSON.stringify(tool.inputSchema)}`) + 8, 0);
  const notice: TurnNotice | null = able[0] === choice.modelId ? null : { kind: 'tool-model', picked: choice.modelId, used: able[0]! };
  return { offered, choice: { ...choice, modelId: able[0]!, candidates: able }, tokens, notice };
}
