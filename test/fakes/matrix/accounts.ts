/**
 * Users, their devices (one access token each), sync filters and account data. Account data is
 * kept with the stream position it changed at, so `/sync` can send only what is new.
 */
import { accessToken, deviceId as newDeviceId, filterId, localpartOf } from './ids.js';
import type { Json, RegisteredUser, RegisterInput } from './types.js';

export interface Account {
  userId: string;
  password: string;
  displayName: string;
  avatarUrl: string | null;
}

export interface Device {
  userId: string;
  deviceId: string;
  token: string;
  displayName: string | null;
}

interface AccountDataEntry {
  content: Json;
  position: number;
}

const dataKey = (userId: string, roomId: string | null): string => `${userId}|${roomId ?? ''}`;

export class Accounts {
  readonly users = new Map<string, Account>();
  private readonly devices = new Map<string, Device>();
  private readonly filters = new Map<string, Map<string, Json>>();
  private filterCount = 0;
  private readonly accountData = new Map<string, Map<string, AccountDataEntry>>();

  constructor(readonly serverName: string) {}

  userIdFor(localpartOrId: string): string {
    return localpartOrId.startsWith('@') ? localpartOrId : `@${localpartOrId}:${this.serverName}`;
  }

  register(localpart: string, input: RegisterInput = {}): RegisteredUser {
    const userId = this.userIdFor(localpart);
    if (this.users.has(userId)) throw new Error(`fake Matrix: ${userId} is already registered`);
    this.users.set(userId, { userId, password: input.password ?? localpartOf(userId), displayName: input.displayName ?? localpartOf(userId), avatarUrl: null });
    return this.newDevice(userId, undefined, null);
  }

  /** A new device (or a new token for `deviceId`, as logging in again with it does). */
  newDevice(userId: string, deviceId: string | undefined, displayName: string | null): RegisteredUser {
    const id = deviceId ?? newDeviceId();
    for (const [token, device] of this.devices) if (device.userId === userId && device.deviceId === id) this.devices.delete(token);
    const token = accessToken();
    this.devices.set(token, { userId, deviceId: id, token, displayName });
    return { userId, accessToken: token, deviceId: id };
  }

  /** `m.login.password`: the user as a localpart or full id. */
  login(user: string, password: string, deviceId: string | undefined, displayName: string | null): RegisteredUser | null {
    const account = this.users.get(this.userIdFor(user));
    if (!account || account.password !== password) return null;
    return this.newDevice(account.userId, deviceId, displayName);
  }

  device(token: string): Device | undefined {
    return this.devices.get(token);
  }

  logout(token: string): void {
    this.devices.delete(token);
  }

  account(userId: string): Account | undefined {
    return this.users.get(userId);
  }

  addFilter(userId: string, filter: Json): string {
    const id = filterId(this.filterCount++);
    const mine = this.filters.get(userId) ?? new Map<string, Json>();
    mine.set(id, filter);
    this.filters.set(userId, mine);
    return id;
  }

  filter(userId: string, id: string): Json | undefined {
    return this.filters.get(userId)?.get(id);
  }

  setAccountData(userId: string, roomId: string | null, type: string, content: Json, position: number): void {
    const key = dataKey(userId, roomId);
    const entries = this.accountData.get(key) ?? new Map<string, AccountDataEntry>();
    entries.set(type, { content, position });
    this.accountData.set(key, entries);
  }

  getAccountData(userId: string, roomId: string | null, type: string): Json | undefined {
    return this.accountData.get(dataKey(userId, roomId))?.get(type)?.content;
  }

  /** Account data events changed after `since` (all of them when `since` is 0). */
  accountDataSince(userId: string, roomId: string | null, since: number): Array<{ type: string; content: Json }> {
    const entries = this.accountData.get(dataKey(userId, roomId));
    if (!entries) return [];
    return [...entries].filter(([, e]) => e.position > since).map(([type, e]) => ({ type, content: e.content }));
  }
}
