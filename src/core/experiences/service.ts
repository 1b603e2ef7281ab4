import { isPostgres } from '../db/dialect.js';
import type { Db } from '../db/open.js';
import type { ExperienceRow, NewExperienceRow } from './table.js';
import { ThreadloomError } from '../errors.js';
import { formatIssues } from '../validation.js';
import {
  findExperienceById,
  findExperienceBySlug,
  insertExperience,
  listExperiences,
  updateExperienceRow,
  type ExperienceFilter,
} from './repository.js';
import { experienceInputSchema, knowledgePolicySchema, type ExperienceInput, type ExperienceSpec } from './schema.js';
import { BUILT_IN_TEMPLATES } from './templates.js';
import { readToolPolicy } from '../tools/policy.js';
import { z } from 'zod';

export interface Experience extends ExperienceSpec {
  id: number;
  archivedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export const DEFAULT_EXPERIENCE_SLUG = 'general';

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function toExperience(row: ExperienceRow): Experience {
  const spec = experienceInputSchema.parse({
    name: row.name,
    slug: row.slug,
    description: row.description,
    category: row.category,
    tags: parseJson(row.tags, []),
    folder: row.folder,
    personaName: row.persona_name,
    systemPrompt: row.system_prompt,
    model: row.model,
    fallbackModels: parseJson(row.fallback_models, []),
    params: parseJson(row.params, {}),
    contextPolicy: parseJson(row.context_policy, {}),
    rules: parseJson(row.rules, {}),
    starterPrompts: parseJson(row.starter_prompts, []),
  });
  // a stored policy that no longer parses turns tools off rather than breaking the Experience
  const tools = readToolPolicy(parseJson(row.tools, {}));
  const knowledge = knowledgePolicySchema.safeParse(parseJson(row.knowledge, {}));
  return { ...spec, tools, knowledge: knowledge.success ? knowledge.data : knowledgePolicySchema.parse({}), id: row.id, archivedAt: row.archived_at, createdAt: row.created_at, updatedAt: row.updated_at };
}
function toRow(spec: ExperienceSpec): NewExperienceRow {
  return {
    slug: spec.slug,
    name: spec.name,
    description: spec.description,
    category: spec.category,
    tags: JSON.stringify(spec.tags),
    folder: spec.folder,
    persona_name: spec.personaName,
    system_prompt: spec.systemPrompt,
    model: spec.model,
    fallback_models: JSON.stringify(spec.fallbackModels),
    params: JSON.stringify(spec.params),
    context_policy: JSON.stringify(spec.contextPolicy),
    rules: JSON.stringify(spec.rules),
    starter_prompts: JSON.stringify(spec.starterPrompts),
    tools: JSON.stringify(spec.tools),
    knowledge: JSON.stringify(spec.knowledge),
  };
}

/** The exported form: exactly the input schema, so an export imports unchanged. */
export function toSpec(experience: Experience): ExperienceSpec {
  const { id: _id, archivedAt: _a, createdAt: _c, updatedAt: _u, ...spec } = experience;
  return spec;
}

function validate(input: unknown, where = ''): ExperienceSpec {
  const parsed = experienceInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new ThreadloomError('invalid', `invalid Experience:\n  ${formatIssues(parsed.error, where).join('\n  ')}`);
  }
  return parsed.data;
}

const importSchema = z.union([z.array(z.unknown()), z.strictObject({ experiences: z.array(z.unknown()) }), z.record(z.string(), z.unknown())]);

export class ExperienceService {
  /** Experiences by id, read on every turn; every write below goes through `remember`/`forget`. */
  private readonly byId = new Map<number, Experience>();
  /**
   * On PostgreSQL other instances edit Experiences too, and this cache would keep their old
   * version: there every turn reads the row (a tenth of a millisecond).
   */
  private readonly caching: boolean;

  constructor(private readonly db: Db) {
    this.caching = !isPostgres(db);
  }

  /** Forgets every cached Experience, e.g. after a restore replaced the rows underneath. */
  clearCache(): void {
    this.byId.clear();
  }

  private remember(experience: Experience): Experience {
    if (this.caching) this.byId.set(experience.id, experience);
    return experience;
  }

  async create(input: ExperienceInput): Promise<Experience> {
    const spec = validate(input);
    if (await findExperienceBySlug(this.db, spec.slug)) {
      throw new ThreadloomError('invalid', `slug: an Experience with slug "${spec.slug}" already exists`);
    }
    return this.remember(toExperience(await insertExperience(this.db, toRow(spec))));
  }

  async update(slug: string, changes: Partial<ExperienceInput>): Promise<Experience> {
    const current = await this.require(slug);
    const spec = validate({ ...toSpec(current), ...changes });
    if (spec.slug !== slug && (await findExperienceBySlug(this.db, spec.slug))) {
      throw new ThreadloomError('invalid', `slug: an Experience with slug "${spec.slug}" already exists`);
    }
    return this.remember(toExperience(await updateExperienceRow(this.db, current.id, toRow(spec))));
  }

  async archive(slug: string): Promise<Experience> {
    const current = await this.require(slug);
    return this.remember(toExperience(await updateExperienceRow(this.db, current.id, { archived_at: new Date().toISOString() })));
  }

  async unarchive(slug: string): Promise<Experience> {
    const current = await this.require(slug);
    return this.remember(toExperience(await updateExperienceRow(this.db, current.id, { archived_at: null })));
  }

  async get(slug: string): Promise<Experience | null> {
    const row = await findExperienceBySlug(this.db, slug);
    return row ? toExperience(row) : null;
  }

  async getById(id: number): Promise<Experience | null> {
    const cached = this.byId.get(id);
    if (cached) return cached;
    const row = await findExperienceById(this.db, id);
    return row ? this.remember(toExperience(row)) : null;
  }

  async require(slug: string): Promise<Experience> {
    const experience = await this.get(slug);
    if (!experience) throw new ThreadloomError('not_found', `no Experience with slug "${slug}"`, { userMessage: `No Experience called "${slug}". Try \`experience list\`.` });
    return experience;
  }

  async list(filter: ExperienceFilter = {}): Promise<Experience[]> {
    return (await listExperiences(this.db, filter)).map(toExperience);
  }

  /** The default Experience, created from the built-in template on first use. */
  async defaultExperience(): Promise<Experience> {
    const existing = await this.get(DEFAULT_EXPERIENCE_SLUG);
    if (existing) return existing;
    const template = BUILT_IN_TEMPLATES.find((t) => t.slug === DEFAULT_EXPERIENCE_SLUG)!;
    return this.create(template);
  }

  /** Creates any built-in template whose slug is not taken yet. Returns the slugs created. */
  async installTemplates(): Promise<string[]> {
    const created: string[] = [];
    for (const template of BUILT_IN_TEMPLATES) {
      if (await findExperienceBySlug(this.db, template.slug)) continue;
      await this.create(template);
      created.push(template.slug);
    }
    return created;
  }

  async exportJson(slugs?: string[]): Promise<string> {
    const all = slugs ? await Promise.all(slugs.map((s) => this.require(s))) : await this.list();
    return JSON.stringify({ experiences: all.map(toSpec) }, null, 2);
  }

  /**
   * Imports one Experience, an array, or `{experiences: [...]}`. Every problem is reported with
   * its path, and either all are written (in one transaction) or none.
   */
  async importJson(json: string, options: { replace?: boolean } = {}): Promise<Experience[]> {
    let data: unknown;
    try {
      data = JSON.parse(json);
    } catch (err) {
      throw new ThreadloomError('invalid', `import: not valid JSON: ${(err as Error).message}`);
    }
    const shape = importSchema.safeParse(data);
    if (!shape.success) throw new ThreadloomError('invalid', 'import: expected an Experience, an array of them, or {"experiences": [...]}');
    const items: unknown[] = Array.isArray(data) ? data : Array.isArray((data as { experiences?: unknown }).experiences) ? (data as { experiences: unknown[] }).experiences : [data];
    const prefix = Array.isArray(data) ? '' : 'experiences' in (data as object) ? 'experiences.' : null;

    const problems: string[] = [];
    const specs: ExperienceSpec[] = [];
    const seen = new Set<string>();
    items.forEach((item, index) => {
      const where = prefix === null ? '' : `${prefix}${index}`;
      const parsed = experienceInputSchema.safeParse(item);
      if (!parsed.success) {
        problems.push(...formatIssues(parsed.error, where));
        return;
      }
      if (seen.has(parsed.data.slug)) problems.push(`${where ? `${where}.` : ''}slug: "${parsed.data.slug}" appears twice in this import`);
      seen.add(parsed.data.slug);
      specs.push(parsed.data);
    });
    if (!options.replace) {
      for (const [index, spec] of specs.entries()) {
        if (await findExperienceBySlug(this.db, spec.slug)) {
          problems.push(`${prefix === null ? '' : `${prefix}${index}.`}slug: "${spec.slug}" already exists (import with replace to overwrite)`);
        }
      }
    }
    if (problems.length > 0) {
      throw new ThreadloomError('invalid', `import rejected, nothing was imported:\n  ${problems.join('\n  ')}`);
    }
    return this.db.transaction().execute(async (trx) => {
      const written: Experience[] = [];
      for (const spec of specs) {
        const existing = await findExperienceBySlug(trx, spec.slug);
        const row = existing ? await updateExperienceRow(trx, existing.id, toRow(spec)) : await insertExperience(trx, toRow(spec));
        written.push(toExperience(row));
      }
      return written;
    }).then((written) => written.map((e) => this.remember(e)));
  }
}
