import type { Db } from '../db/open.js';
import type { BindingRow } from './table.js';

/** The one place that reads and writes `bindings`: which Experience (and model) a channel uses. */

export async function bindingAt(db: Db, platform: string, channelId: string): Promise<BindingRow | undefined> {
  return db.selectFrom('bindings').selectAll().where('platform', '=', platform).where('channel_id', '=', channelId).executeTakeFirst();
}

export async function bindingsOfExperience(db: Db, experienceId: number): Promise<BindingRow[]> {
  return db.selectFrom('bindings').selectAll().where('experience_id', '=', experienceId).orderBy('platform').orderBy('channel_id').execute();
}

/** Binds the channel, replacing whatever it was bound to. */
export async function bindChannel(db: Db, binding: { platform: string; channelId: string; experienceId: number; modelOverride: string | null }): Promise<void> {
  await db
    .insertInto('bindings')
    .values({ platform: binding.platform, channel_id: binding.channelId, experience_id: binding.experienceId, model_override: binding.modelOverride })
    .onConflict((oc) => oc.columns(['platform', 'channel_id']).doUpdateSet({ experience_id: binding.experienceId, model_override: binding.modelOverride }))
    .execute();
}

/** Removes one binding of an Experience; returns what it bound, or undefined when it was gone. */
export async function unbind(db: Db, id: number, experienceId: number): Promise<Pick<BindingRow, 'platform' | 'channel_id'> | undefined> {
  return db.deleteFrom('bindings').where('id', '=', id).where('experience_id', '=', experienceId).returning(['platform', 'channel_id']).executeTakeFirst();
}
