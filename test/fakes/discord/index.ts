/**
 * A fake Discord (gateway websocket + REST) that the real discord.js Client logs into:
 *
 * ```ts
 * const fake = await startFakeDiscord();
 * const client = new Client({ intents, partials: [Partials.Channel], rest: { api: fake.apiUrl } });
 * await client.login('any-token');                       // READY + GUILD_CREATE, no 15 s guild wait
 * fake.userSays({ content: 'hi', mentionsBot: true });   // MESSAGE_CREATE in the first text channel
 * expect(fake.messagesIn(fake.channelId)[0]?.content).toBe('...');
 * ```
 *
 * Plain JSON gateway only (no zlib). Threads started from a message get that message's id, as on
 * Discord. Message edits are limited per channel (5 per 5 s by default, a hidden sublimit so
 * discord.js meets real 429s); interactions must be answered within 3 s. Guild messages reach a
 * client without the MessageContent intent with empty content unless they mention the bot, and DM
 * channels are not announced (discord.js needs `Partials.Channel` for DMs), as on Discord. Channels
 * carry permission overwrites (`permissionOverwrites`, `setPermissionOverwrites`), applied to what
 * the bot may send and to interaction permissions; `GET /guilds/:id/members/:user` answers 404
 * Unknown Member (10007) for people not in the guild. Sharded as Discord is: IDENTIFY's
 * `shard: [id, count]` picks the guilds a session hears of (`(guild_id >> 22) % count`, DMs on 0);
 * `shards` sets what GET /gateway/bot recommends.
 */
import { FakeDiscord } from './fake.js';
import type { FakeDiscordOptions } from './types.js';

export { FakeDiscord } from './fake.js';
export { shardOf, type Dispatch, type Shard } from './gateway.js';
export { snowflake } from './ids.js';
export type * from './types.js';

export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  return new FakeDiscord(options).listen();
}
