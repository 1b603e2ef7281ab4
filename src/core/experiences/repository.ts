import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/types.js';
import type { ExperienceRow, ExperienceRowUpdate, NewExperienceRow } from './table.js';

type Executor = Kysely<Database> | Transaction<Database>;

export async function findExperienceBySlug(db: Executor, slug: string): Promise<ExperienceRow | undefined> {
  return db.selectFrom('experiences').selectAll().where('slug', '=', slug).executeTakeFirst();
}

export async function findExperienceById(db: Executor, id: number): Promise<ExperienceRow | undefined> {
  return db.selectFrom('experiences').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface ExperienceFilter {
  category?: string;
  tag?: string;
  folder?: string;
  includeArchived?: boolean;
}

export async function listExperiences(db: Executor, filter: ExperienceFilter = {}): Promise<ExperienceRow[]> {
  return db
    .selectFrom('experiences')
    .selectAll()
    .$if(!filter.includeArchived, (qb) => qb.where('archived_at', 'is', null))
    .$if(filter.category !== undefined, (qb) => qb.where('category', '=', filter.category!))
    .$if(filter.folder !== undefined, (qb) => qb.where('folder', '=', filter.folder!))
    // tags are a JSON array; the exact-element test keeps "ops" from matching "devops"; lower()
    // because SQLite's LIKE ignores ASCII case and PostgreSQL's does not
    .$if(filter.tag !== undefined, (qb) => qb.where((eb) => eb(eb.fn('lower', ['tags']), 'like', `%${JSON.stringify(filter.tag!).toLowerCase()}%`)))
    .orderBy('category')
    .orderBy('name')
    .execute();
}

export async function insertExperience(db: Executor, row: NewExperienceRow): Promise<ExperienceRow> {
  return db.insertInto('experiences').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function updateExperienceRow(db: Executor, id: number, update: ExperienceRowUpdate): Promise<ExperienceRow> {
  return db
    .updateTable('experiences')
    .set({ ...update, updated_at: new Date().toISOString() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}
