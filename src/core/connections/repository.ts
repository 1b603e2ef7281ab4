import type { Db } from '../db/open.js';
import type { NewProviderConnectionRow, ProviderConnectionRow, ProviderConnectionUpdate } from './table.js';

/** The one place that reads and writes `provider_connections`. */

export async function listConnections(db: Db): Promise<ProviderConnectionRow[]> {
  return db.selectFrom('provider_connections').selectAll().orderBy('name').execute();
}

export async function connectionById(db: Db, id: number): Promise<ProviderConnectionRow | undefined> {
  return db.selectFrom('provider_connections').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function connectionByName(db: Db, name: string): Promise<ProviderConnectionRow | undefined> {
  return db.selectFrom('provider_connections').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function insertConnection(db: Db, row: NewProviderConnectionRow): Promise<ProviderConnectionRow> {
  return db.insertInto('provider_connections').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function updateConnection(db: Db, id: number, changes: ProviderConnectionUpdate, now: Date): Promise<ProviderConnectionRow | undefined> {
  return db.updateTable('provider_connections').set({ ...changes, updated_at: now.toISOString() }).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function deleteConnection(db: Db, id: number): Promise<ProviderConnectionRow | undefined> {
  return db.deleteFrom('provider_connections').where('id', '=', id).returningAll().executeTakeFirst();
}
