import { ClientEvent, createClient, MatrixEventEvent, RoomEvent, SyncState, type MatrixClient, type MatrixEvent } from 'matrix-js-sdk';
import { logger as sdkGlobalLogger, type Logger } from 'matrix-js-sdk/lib/logger.js';
import { initQuietCrypto } from '../../src/bots/matrix/client.js';
import type { RegisteredUser } from './register.js';

// parts of the SDK log through its global logger, at debug
sdkGlobalLogger.setLevel('silent');
const quiet: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, getChild: () => quiet };

export interface SeenEvent {
  id: string;
  roomId: string;
  sender: string;
  type: string;
  content: Record<string, unknown>;
  encrypted: boolean;
}

export interface UserClient {
  client: MatrixClient;
  /** every timeline event this user saw, decrypted */
  seen: SeenEvent[];
  stop(): void;
}

/**
 * A person on Matrix: a second real client with its own (in-memory) Rust crypto, which must be
 * able to read what the bot sends into encrypted rooms.
 */
export async function startUserClient(baseUrl: string, user: RegisteredUser, options: { encryption?: boolean } = {}): Promise<UserClient> {
  const client = createClient({ baseUrl, accessToken: user.accessToken, userId: user.userId, deviceId: user.deviceId, logger: quiet });
  if (options.encryption !== false) await initQuietCrypto(client, undefined);
  const seen: SeenEvent[] = [];
  client.on(RoomEvent.Timeline, (event: MatrixEvent, room, toStart) => {
    if (toStart || !room) return;
    const record = (): void => {
      seen.push({ id: event.getId()!, roomId: room.roomId, sender: event.getSender()!, type: event.getType(), content: event.getOriginalContent() as Record<string, unknown>, encrypted: event.isEncrypted() });
    };
    void client.decryptEventIfNeeded(event).then(() => {
      // the room key can arrive after the message: record it once it is readable
      if (!event.isDecryptionFailure()) return record();
      const onDecrypted = (): void => {
        if (event.isDecryptionFailure()) return;
        event.off(MatrixEventEvent.Decrypted, onDecrypted);
        record();
      };
      event.on(MatrixEventEvent.Decrypted, onDecrypted);
    });
  });
  await client.startClient({ initialSyncLimit: 0 });
  await new Promise<void>((resolve) => {
    const onSync = (state: SyncState): void => {
      if (state === SyncState.Prepared || state === SyncState.Syncing) {
        client.off(ClientEvent.Sync, onSync);
        resolve();
      }
    };
    client.on(ClientEvent.Sync, onSync);
  });
  return { client, seen, stop: () => client.stopClient() };
}
