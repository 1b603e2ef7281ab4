import { authorKey } from '../identity.js';
import type { Admission, Admittee, Inbound } from '../inbound.js';
import type { AccessConfig } from '../platforms.js';

/**
 * Admission, decided once for every platform: may this person act here, and is this message
 * answered here. Adapters only report the facts (`Inbound.place`, DM, thread); the rules read
 * the access config, which the admin web lays over the config in place, so a saved change applies
 * to the next event. An empty allowlist allows everyone.
 */

const listed = (list: readonly string[], value: string | null | undefined): boolean => value != null && list.includes(value);
const open = (list: readonly string[], value: string | null | undefined): boolean => list.length === 0 || listed(list, value);

/** May this person act in this place (talk, run commands, press buttons)? */
export function mayAct(access: AccessConfig, who: Admittee): boolean {
  const id = who.author.id;
  const place = who.place;
  switch (who.platform) {
    case 'discord': {
      const { allow, allowDMs } = access.discord;
      const roles = place?.roles ?? [];
      const person = (allow.users.length === 0 && allow.roles.length === 0) || allow.users.includes(id) || roles.some((r) => allow.roles.includes(r));
      const guildId = place?.guildId ?? null;
      if (guildId === null) return allowDMs && person;
      return open(allow.guilds, guildId) && open(allow.channels, who.channelId) && person;
    }
    case 'slack': {
      const { allow, allowDMs } = access.slack;
      return (who.isDirect ? allowDMs : open(allow.channels, who.channelId)) && open(allow.users, id);
    }
    case 'matrix': {
      const { allow, allowDMs } = access.matrix;
      const person = (allow.users.length === 0 && allow.servers.length === 0) || allow.users.includes(id) || listed(allow.servers, place?.authorServer);
      return person && open(allow.rooms, who.channelId) && (!who.isDirect || allowDMs);
    }
    default:
      return true;
  }
}

const answersEverywhere = (access: AccessConfig, platform: string): boolean => {
  if (platform === 'discord' || platform === 'slack' || platform === 'matrix') return access[platform].answerEverywhere;
  return true;
};

/**
 * Is a message answered in this place without asking the database? DMs and threads always are,
 * commands and buttons anywhere (`bind` must work in an unbound channel); otherwise only where the
 * platform answers everywhere. `undefined`: only if the channel is bound.
 */
export function answersHere(access: AccessConfig, inbound: Inbound): boolean | undefined {
  if (inbound.kind === 'command' || inbound.kind === 'action') return true;
  if (answersEverywhere(access, inbound.platform) || inbound.isDirect || inbound.threadId) return true;
  return undefined;
}

/** The whole decision; `isBound` is asked only when it matters. */
export async function admit(access: AccessConfig, inbound: Inbound, isBound: (platform: string, channelId: string) => Promise<boolean>): Promise<Admission> {
  if (!mayAct(access, inbound)) return 'not-allowed';
  const here = answersHere(access, inbound) ?? (await isBound(inbound.platform, inbound.channelId));
  return here ? 'admitted' : 'not-here';
}

/** Admins: asserted by the platform, or listed in config (globally, per platform, or by Discord role). */
export function isAdmin(access: AccessConfig, inbound: Inbound): boolean {
  if (inbound.authorIsAdmin === true || access.admins.includes(authorKey(inbound))) return true;
  const id = inbound.author.id;
  switch (inbound.platform) {
    case 'discord':
      return access.discord.adminUsers.includes(id) || (inbound.place?.roles ?? []).some((r) => access.discord.adminRoles.includes(r));
    case 'slack':
      return access.slack.adminUsers.includes(id);
    case 'matrix':
      return access.matrix.adminUsers.includes(id);
    default:
      return false;
  }
}
