import type { Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { JsonText } from '../json-column.js';

/** Experiences: a persona, prompt, model and context policy a channel's conversations use. */
export interface ExperienceTable {
  id: Generated<number>;
  slug: string;
  name: string;
  description: string;
  category: string;
  tags: JsonText<string[]>;
  folder: string | null;
  persona_name: string;
  system_prompt: string;
  model: string | null;
  fallback_models: JsonText<string[]>;
  /** GenerationSettings */
  params: JsonText<Record<string, unknown>>;
  /** ContextPolicy */
  context_policy: JsonText<Record<string, unknown>>;
  /** ResponseRules */
  rules: JsonText<Record<string, unknown>>;
  starter_prompts: JsonText<string[]>;
  /** ToolPolicy */
  tools: Generated<JsonText<Record<string, unknown>>>;
  /** KnowledgePolicy */
  knowledge: Generated<JsonText<Record<string, unknown>>>;
  archived_at: string | null;
  created_at: Generated<string>;
  updated_at: Generated<string>;
}

export type ExperienceRow = Selectable<ExperienceTable>;
export type NewExperienceRow = Insertable<ExperienceTable>;
export type ExperienceRowUpdate = Updateable<ExperienceTable>;
