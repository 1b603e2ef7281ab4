import { PermissionFlagsBits, type GuildMember, type APIInteractionGuildMember } from 'discord.js';
import type { InboundPlace } from '../../core/inbound.js';

type Member = GuildMember | APIInteractionGuildMember | null;

function roleIds(member: Member): string[] {
  if (!member) return [];
  return Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
}

/** The facts the core's admission decides by: the guild (null in a DM) and the author's roles. */
export function placeFacts(guildId: string | null, member: Member): InboundPlace {
  return { guildId, roles: roleIds(member), authorServer: null };
}

/** Guild administrators are admins here (configured admin users and roles are the core's to check). */
export function isAdministrator(member: Member): boolean {
  const permissions = member?.permissions;
  if (!permissions) return false;
  const bits = typeof permissions === 'string' ? BigInt(permissions) : permissions.bitfield;
  return (bits & PermissionFlagsBits.Administrator) === PermissionFlagsBits.Administrator;
}
