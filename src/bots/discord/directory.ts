import { DiscordAPIError, PermissionFlagsBits, type Channel, type Client, type Guild, type GuildMember } from 'discord.js';
import type { MessageRef, PlatformDirectory } from '../../core/search/directory.js';
import { Expiring, mapBounded } from '../lookups.js';

const CACHE_MS = 60_000;
const CONCURRENCY = 4;
/** what reading a channel's past messages takes on Discord */
const READ = PermissionFlagsBits.ViewChannel | PermissionFlagsBits.ReadMessageHistory;

/** Discord's answer "no such thing / not for you": worth remembering, unlike a network failure. */
function definite(err: unknown): boolean {
  return err instanceof DiscordAPIError && err.status >= 400 && err.status < 500 && err.status !== 429;
}

/**
 * Who may read what on Discord. A DM is readable by its one recipient; a guild channel (and so
 * every thread in it: conversations are stored under the parent channel) by members whose roles
 * and the channel's permission overwrites give View Channel and Read Message History.
 */
export function createDiscordDirectory(client: Client): PlatformDirectory {
  const verdicts = new Expiring<boolean>(CACHE_MS);
  // discord.js does not hear about role changes without the GuildMembers intent: members are
  // fetched afresh, and kept only as long as verdicts are
  const members = new Expiring<GuildMember | null>(CACHE_MS);

  /** The channel; null when Discord says there is none for the bot (a failure to ask throws). */
  async function channel(id: string): Promise<Channel | null> {
    try {
      return client.channels.cache.get(id) ?? (await client.channels.fetch(id));
    } catch (err) {
      if (definite(err)) return null; // 10003 Unknown Channel, 50001 Missing Access
      throw err;
    }
  }

  function member(guild: Guild, userId: string): Promise<GuildMember | null> {
    return members.getOrLoad(`${guild.id}\u0000${userId}`, async () => {
      try {
        return await guild.members.fetch({ user: userId, force: true });
      } catch (err) {
        if (definite(err)) return null; // 10007 Unknown Member: not in the guild
        throw err;
      }
    });
  }

  async function canRead(userId: string, channelId: string): Promise<boolean> {
    const found = await channel(channelId);
    if (!found) return false;
    if (found.isDMBased()) return 'recipientId' in found && found.recipientId === userId;
    const who = await member(found.guild, userId);
    if (!who) return false;
    const permissions = found.permissionsFor(who);
    return permissions?.has(READ) ?? false;
  }

  return {
    async visibleChannels(userId, channelIds) {
      const visible = new Set<string>();
      await mapBounded([...new Set(channelIds)], CONCURRENCY, async (channelId) => {
        try {
          if (await verdicts.getOrLoad(`${userId}\u0000${channelId}`, () => canRead(userId, channelId))) visible.add(channelId);
        } catch {
          // could not check (Discord unreachable): not visible, and asked again next time
        }
      });
      return visible;
    },

    async permalink(ref: MessageRef) {
      const found = await channel(ref.channelId).catch(() => null);
      if (!found) return null;
      const guild = found.isDMBased() ? '@me' : found.guildId;
      const base = `https://discord.com/channels/${guild}/${ref.threadId || ref.channelId}`;
      return ref.platformMessageId ? `${base}/${ref.platformMessageId}` : base;
    },
  };
}
