import { PermissionFlagsBits, type GuildMember, type APIInteractionGuildMember } from 'discord.js';
import type { Config } from '../../core/config.js';

type DiscordConfig = Config['discord'];

export interface Place {
  guildId: string | null;
  /** the channel, or for a thread its parent channel */
  channelId: string;
  userId: string;
  member: GuildMember | APIInteractionGuildMember | null;
}

function roleIds(member: Place['member']): string[] {
  if (!member) return [];
  return Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
}

/**
 * Allowlists: an empty list allows everyone. Guild and channel lists limit where the bot answers;
 * user and role lists limit who: a person passes when listed or holding a listed role.
 */
export function isAllowed(config: DiscordConfig, place: Place): boolean {
  const { allow } = config;
  const personListed = allow.users.includes(place.userId) || roleIds(place.member).some((r) => allow.roles.includes(r));
  const personAllowed = (allow.users.length === 0 && allow.roles.length === 0) || personListed;
  if (place.guildId === null) return config.allowDMs && personAllowed;
  if (allow.guilds.length && !allow.guilds.includes(place.guildId)) return false;
  if (allow.channels.length && !allow.channels.includes(place.channelId)) return false;
  return personAllowed;
}

/** Admins: listed users, members with a listed role, and guild administrators. */
export function isAdmin(config: DiscordConfig, place: Place): boolean {
  if (config.adminUsers.includes(place.userId)) return true;
  if (roleIds(place.member).some((r) => config.adminRoles.includes(r))) return true;
  const permissions = place.member?.permissions;
  if (!permissions) return false;
  const bits = typeof permissions === 'string' ? BigInt(permissions) : permissions.bitfield;
  return (bits & PermissionFlagsBits.Administrator) === PermissionFlagsBits.Administrator;
}
