import { errorMessage, ProviderError } from '../errors.js';
import type { ProviderRouter } from './router.js';
import { splitModelId } from './router.js';

/**
 * Whether the default model can answer, asked once at start so a newcomer learns it from the
 * start-up lines and the dashboard instead of from the first chat message. Cleared as soon as
 * any answer succeeds.
 */

export type ReadinessProblem = 'no-provider' | 'unreachable' | 'refused' | 'missing-model';

export interface ModelReadiness {
  modelId: string;
  problem: ReadinessProblem | null;
  /** what is wrong, in one sentence; null when the model can answer */
  detail: string | null;
  /** the ways out, in one line; null when the model can answer */
  fix: string | null;
}

const CHECK_TIMEOUT_MS = 3_000;

function waysOut(problem: ReadinessProblem, modelId: string, providerKind: string | null): string {
  const { model } = splitModelId(modelId);
  const elsewhere = "add a connection on the admin's Connections page and pick its model as the default on Models, or set OPENAI_API_KEY (or ANTHROPIC_API_KEY) and THREADLOOM_DEFAULT_MODEL, e.g. openai/gpt-4o-mini";
  if (providerKind === 'ollama') {
    if (problem === 'missing-model') return `run \`ollama pull ${model}\`, or ${elsewhere}`;
    return `start Ollama (\`ollama serve\`, or set OLLAMA_HOST to where it runs) and \`ollama pull ${model}\`, or ${elsewhere}`;
  }
  if (problem === 'refused') return "check the provider's API key (the variable named in providers.<name>.apiKeyEnv, or OPENAI_API_KEY / ANTHROPIC_API_KEY)";
  if (problem === 'missing-model') return 'pick a model the provider offers (`npm run doctor` lists them) in THREADLOOM_DEFAULT_MODEL';
  return `check the provider's base URL and that it is running, or ${elsewhere}`;
}

/** Asks the default model's provider for its models; says what is wrong and the ways out. */
export async function checkDefaultModel(router: ProviderRouter, modelId: string): Promise<ModelReadiness> {
  const { provider: name, model } = splitModelId(modelId);
  const provider = router.provider(name);
  if (!provider) {
    return { modelId, problem: 'no-provider', detail: `no provider named "${name}" is configured`, fix: waysOut('no-provider', modelId, null) };
  }
  try {
    const models = await provider.listModels(AbortSignal.timeout(CHECK_TIMEOUT_MS));
    const offered = models.some((m) => m.name === model || m.name === `${model}:latest` || `${m.name}:latest` === model);
    // hosted providers list what the key may use; a model missing there will not answer either
    if (!offered && models.length > 0) {
      return { modelId, problem: 'missing-model', detail: `${name} does not offer ${model}`, fix: waysOut('missing-model', modelId, provider.kind) };
    }
    return { modelId, problem: null, detail: null, fix: null };
  } catch (err) {
    const refused = err instanceof ProviderError && err.failure === 'auth';
    const problem: ReadinessProblem = refused ? 'refused' : 'unreachable';
    const detail = refused ? `${name} refused our credentials` : `${name} could not be reached (${errorMessage(err).slice(0, 160)})`;
    return { modelId, problem, detail, fix: waysOut(problem, modelId, provider.kind) };
  }
}

/** The one start-up line: null when the model can answer. */
export function readinessLine(readiness: ModelReadiness, adminUrl: string | null): string | null {
  if (!readiness.problem) return null;
  const admin = adminUrl ? `; the dashboard at ${adminUrl} says the same until a model answers` : '';
  return `no model can answer yet: the default model ${readiness.modelId} — ${readiness.detail}. Ways out: ${readiness.fix}${admin}`;
}

/**
 * The last word on whether a model can answer, for the dashboard's banner: set by the check at
 * start (or a later one), cleared by the first answer that arrives.
 */
export class ReadinessBoard {
  private current: ModelReadiness | null = null;

  get problem(): ModelReadiness | null {
    return this.current?.problem ? this.current : null;
  }

  set(readiness: ModelReadiness): void {
    this.current = readiness;
  }

  /** A model answered: whatever the check said, a model can answer now. */
  answered(): void {
    if (this.current?.problem) this.current = { ...this.current, problem: null, detail: null, fix: null };
  }
}
