import { z } from 'zod';
import type { Db } from './db/open.js';
import { getSetting, setSetting } from './settings.js';

/**
 * What each chat platform is doing right now, as its adapter reports it: the admin dashboard and
 * /metrics read this board; adapters write to it. A platform never reported is 'off'.
 */

/** standby: several instances share the database and another one holds this platform's connection */
export type PlatformState = 'off' | 'connecting' | 'connected' | 'error' | 'standby';

export interface PlatformStatus {
  platform: string;
  state: PlatformState;
  /** why: "DISCORD_TOKEN is not set", "gateway closed: 4004 authentication failed", ... */
  detail: string;
  /** when the state last changed */
  since: Date;
}

/** The platforms Threadloom knows, listed even before their adapter said anything. */
export const KNOWN_PLATFORMS = ['discord', 'slack', 'matrix'] as const;

export class PlatformStatusBoard {
  private readonly statuses = new Map<string, PlatformStatus>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  set(platform: string, state: PlatformState, detail: string): void {
    const current = this.statuses.get(platform);
    // a repeated report (same state) keeps its time: "connected since" stays true
    const since = current && current.state === state ? current.since : this.now();
    this.statuses.set(platform, { platform, state, detail, since });
  }

  get(platform: string): PlatformStatus {
    return this.statuses.get(platform) ?? { platform, state: 'off', detail: 'not started', since: this.now() };
  }

  /** The known platforms first, then any other that reported (console, tests), by name. */
  list(): PlatformStatus[] {
    const names = new Set<string>(KNOWN_PLATFORMS);
    for (const name of [...this.statuses.keys()].sort()) names.add(name);
    return [...names].map((name) => this.get(name));
  }
}

/**
 * Access settings the admin web edits at run time: per-platform allowlists and admin users, the
 * global admins and the per-user turn limit. They are stored in the settings table and laid over
 * the config (in place, so adapters holding `config.discord` see them at once) at every start
 * and on every save. The per-user limit is read when the engine starts: it applies after a restart.
 */
export const ACCESS_SETTINGS_KEY = 'admin.access';

export interface AccessSettings {
  admins: string[];
  userTurnsPerMinute: number;
  discord: { allowDMs: boolean; answerEverywhere: boolean; guilds: string[]; channels: string[]; roles: string[]; users: string[]; adminUsers: string[]; adminRoles: string[] };
  slack: { allowDMs: boolean; answerEverywhere: boolean; channels: string[]; users: string[]; adminUsers: string[] };
  matrix: { allowDMs: boolean; answerEverywhere: boolean; users: string[]; servers: string[]; rooms: string[]; adminUsers: string[] };
}

/** The part of Config these settings touch (structural, so this file needs no config import). */
export interface AccessConfig {
  admins: string[];
  limits: { userTurnsPerMinute: number };
  discord: { allowDMs: boolean; answerEverywhere: boolean; allow: { guilds: string[]; channels: string[]; roles: string[]; users: string[] }; adminUsers: string[]; adminRoles: string[] };
  slack: { allowDMs: boolean; answerEverywhere: boolean; allow: { channels: string[]; users: string[] }; adminUsers: string[] };
  matrix: { allowDMs: boolean; answerEverywhere: boolean; allow: { users: string[]; servers: string[]; rooms: string[] }; adminUsers: string[] };
}

export function accessFromConfig(config: AccessConfig): AccessSettings {
  const { discord, slack, matrix } = config;
  return structuredClone({
    admins: config.admins,
    userTurnsPerMinute: config.limits.userTurnsPerMinute,
    discord: { allowDMs: discord.allowDMs, answerEverywhere: discord.answerEverywhere, ...discord.allow, adminUsers: discord.adminUsers, adminRoles: discord.adminRoles },
    slack: { allowDMs: slack.allowDMs, answerEverywhere: slack.answerEverywhere, ...slack.allow, adminUsers: slack.adminUsers },
    matrix: { allowDMs: matrix.allowDMs, answerEverywhere: matrix.answerEverywhere, ...matrix.allow, adminUsers: matrix.adminUsers },
  });
}

function replaceAll(target: string[], values: readonly string[]): void {
  target.splice(0, target.length, ...values);
}

/** Lays the settings over the config in place (arrays keep their identity). */
export function applyAccess(config: AccessConfig, access: AccessSettings): void {
  replaceAll(config.admins, access.admins);
  config.limits.userTurnsPerMinute = access.userTurnsPerMinute;
  const { discord, slack, matrix } = config;
  Object.assign(discord, { allowDMs: access.discord.allowDMs, answerEverywhere: access.discord.answerEverywhere });
  for (const key of ['guilds', 'channels', 'roles', 'users'] as const) replaceAll(discord.allow[key], access.discord[key]);
  replaceAll(discord.adminUsers, access.discord.adminUsers);
  replaceAll(discord.adminRoles, access.discord.adminRoles);
  Object.assign(slack, { allowDMs: access.slack.allowDMs, answerEverywhere: access.slack.answerEverywhere });
  for (const key of ['channels', 'users'] as const) replaceAll(slack.allow[key], access.slack[key]);
  replaceAll(slack.adminUsers, access.slack.adminUsers);
  Object.assign(matrix, { allowDMs: access.matrix.allowDMs, answerEverywhere: access.matrix.answerEverywhere });
  for (const key of ['users', 'servers', 'rooms'] as const) replaceAll(matrix.allow[key], access.matrix[key]);
  replaceAll(matrix.adminUsers, access.matrix.adminUsers);
}

const ids = z.array(z.string().trim().min(1).max(200, 'ids are at most 200 characters')).max(1000, 'at most 1000 entries');
const platformFlags = { allowDMs: z.boolean(), answerEverywhere: z.boolean() };

export const accessSettingsSchema = z.strictObject({
  admins: z.array(z.string().trim().regex(/^[a-z][a-z0-9_-]*:.+$/, 'each admin is platform:id, e.g. discord:123456789')).max(1000),
  userTurnsPerMinute: z.number().int('a whole number').min(1, 'at least 1').max(10_000, 'at most 10000'),
  discord: z.strictObject({ ...platformFlags, guilds: ids, channels: ids, roles: ids, users: ids, adminUsers: ids, adminRoles: ids }),
  slack: z.strictObject({ ...platformFlags, channels: ids, users: ids, adminUsers: ids }),
  matrix: z.strictObject({ ...platformFlags, users: ids, servers: ids, rooms: ids, adminUsers: ids }),
});

/** The stored settings, or null when none were saved (or what is stored no longer parses). */
export async function loadAccess(db: Db): Promise<AccessSettings | null> {
  const text = await getSetting(db, ACCESS_SETTINGS_KEY);
  if (!text) return null;
  try {
    const parsed = accessSettingsSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Stores the settings and lays them over the running config. */
export async function saveAccess(db: Db, config: AccessConfig, access: AccessSettings): Promise<void> {
  await setSetting(db, ACCESS_SETTINGS_KEY, JSON.stringify(access));
  applyAccess(config, access);
}
