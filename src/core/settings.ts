import { z } from 'zod';
import { nowText } from './db/dialect.js';
import type { Db } from './db/open.js';
import { ThreadloomError } from './errors.js';
import { modelIdSchema } from './experiences/schema.js';
import { formatIssues } from './validation.js';

/**
 * Settings changed at run time (from the admin web) live in the `settings` table as text; what
 * config says is the fallback when a key was never set. Config stays the place for secrets.
 */

export async function getSetting(db: Db, key: string): Promise<string | null> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value ?? null;
}

export async function setSetting(db: Db, key: string, value: string): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: nowText(db) }))
    .execute();
}

export const MODEL_DEFAULT_KEY = 'models.default';
export const MODEL_FALLBACKS_KEY = 'models.fallbacks';

export interface ModelDefaults {
  /** `provider/model` used when nothing more specific chose one */
  defaultModel: string;
  /** tried in order after the chosen model (and its Experience's own fallbacks) failed */
  fallbacks: string[];
  /** where `defaultModel` came from */
  source: 'settings' | 'config';
  /** where `fallbacks` came from: saved in the admin, else the config file's `fallbackModels` */
  fallbacksSource: 'settings' | 'config';
}

const modelDefaultsSchema = z.strictObject({
  defaultModel: modelIdSchema,
  fallbacks: z.array(modelIdSchema).max(10, 'at most 10 fallbacks'),
});

/** The global default model and fallbacks: the stored ones, else config's `defaultModel` and `fallbackModels`. */
export async function modelDefaults(db: Db, config: { defaultModel: string; fallbackModels?: string[] }): Promise<ModelDefaults> {
  const rows = await db.selectFrom('settings').select(['key', 'value']).where('key', 'in', [MODEL_DEFAULT_KEY, MODEL_FALLBACKS_KEY]).execute();
  const stored = new Map(rows.map((r) => [r.key, r.value]));
  const defaultModel = stored.get(MODEL_DEFAULT_KEY);
  const storedFallbacks = stored.get(MODEL_FALLBACKS_KEY);
  let fallbacks: string[] = storedFallbacks === undefined ? (config.fallbackModels ?? []) : [];
  try {
    const parsed: unknown = JSON.parse(storedFallbacks ?? 'null');
    if (Array.isArray(parsed)) fallbacks = parsed.filter((m): m is string => typeof m === 'string');
  } catch {
    // a hand-edited value that is not JSON: no fallbacks rather than no answers
  }
  const fallbacksSource = storedFallbacks === undefined ? 'config' : 'settings';
  return defaultModel
    ? { defaultModel, fallbacks, source: 'settings', fallbacksSource }
    : { defaultModel: config.defaultModel, fallbacks, source: 'config', fallbacksSource };
}

/** Stores the global default and fallbacks; the default never appears among its own fallbacks. */
export async function setModelDefaults(db: Db, input: { defaultModel: string; fallbacks: string[] }): Promise<ModelDefaults> {
  const parsed = modelDefaultsSchema.safeParse({ defaultModel: input.defaultModel.trim(), fallbacks: input.fallbacks.map((m) => m.trim()).filter(Boolean) });
  if (!parsed.success) throw new ThreadloomError('invalid', formatIssues(parsed.error).join('; '));
  const { defaultModel } = parsed.data;
  const fallbacks = [...new Set(parsed.data.fallbacks)].filter((m) => m !== defaultModel);
  await db.transaction().execute(async (trx) => {
    await setSetting(trx, MODEL_DEFAULT_KEY, defaultModel);
    await setSetting(trx, MODEL_FALLBACKS_KEY, JSON.stringify(fallbacks));
  });
  return { defaultModel, fallbacks, source: 'settings', fallbacksSource: 'settings' };
}
