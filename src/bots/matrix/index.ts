import {
  ClientEvent,
  createClient,
  IndexedDBStore,
  MatrixError,
  MatrixEventEvent,
  MemoryStore,
  RoomEvent,
  SyncState,
  type IStartClientOpts,
  type MatrixClient,
  type MatrixEvent,
  type Room,
} from 'matrix-js-sdk';
import { RateLimitError, errorMessage } from '../../core/errors.js';
import type { Admittee } from '../../core/inbound.js';
import type { AdapterContext, AdapterStatus, ChatAdapter } from '../adapter.js';
import { AdapterHealth } from '../health.js';
import { attachmentsOf } from './attachments.js';
import { catchUp } from './catch-up.js';
import { createMatrixDirectory } from './directory.js';
import { initQuietCrypto, quietGlobalSdkLogging, sdkLogger, resolveSession, setUpCrossSigning } from './client.js';
import { MATRIX, eventInbound, placeFacts, type BotIdentity, type RoomEventLike } from './inbound.js';
import { MatrixReply, type HintMemory, type MatrixTransport } from './reply.js';
import type { MatrixSession, StoreKeys } from './session.js';
import { PersistedIndexedDB, watchWrites, type IdbFactory } from './store-file.js';
import { databaseVault, fileVault } from './vault.js';

const FIRST_SYNC_TIMEOUT_MS = 120_000;
/** a message whose keys arrive late is decrypted when they do; after this long the sender is asked to re-send */
const LATE_KEYS_WAIT_MS = 10_000;
const SYNC_SAVE_DELAY_MS = 1_000;
/** a stop waits this long for cross-signing still being set up */
const CROSS_SIGNING_STOP_WAIT_MS = 5_000;

export interface MatrixAdapterOptions {
  /** fast tests against a fake homeserver run without end-to-end encryption; real use never does */
  encryption?: boolean;
}

export interface MatrixAdapter extends ChatAdapter {
  client(): MatrixClient | null;
  session(): MatrixSession | null;
}

function syncedOnce(client: MatrixClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no sync from the homeserver within ${FIRST_SYNC_TIMEOUT_MS / 1000} s`)), FIRST_SYNC_TIMEOUT_MS);
    const onSync = (state: SyncState, _prev: SyncState | null, data?: { error?: Error }): void => {
      if (state === SyncState.Prepared || state === SyncState.Syncing) {
        clearTimeout(timer);
        client.off(ClientEvent.Sync, onSync);
        resolve();
      } else if (state === SyncState.Error && data?.error instanceof MatrixError && data.error.httpStatus === 401) {
        clearTimeout(timer);
        client.off(ClientEvent.Sync, onSync);
        reject(new Error('the homeserver rejected the access token'));
      }
    };
    client.on(ClientEvent.Sync, onSync);
  });
}

/**
 * Threadloom on Matrix: a mention in a room opens a thread rooted at that message, the thread
 * continues without a mention, a DM is one running conversation; `!tl <command>` for the command
 * table, reactions on answers as actions. Encrypted rooms work through the SDK's Rust crypto,
 * whose store survives restarts in an encrypted file in the data dir.
 */
export function createMatrixAdapter({ engine, config, log, sharedState }: AdapterContext, options: MatrixAdapterOptions = {}): MatrixAdapter {
  const settings = config.matrix;
  const encryption = options.encryption ?? true;
  // instances sharing PostgreSQL hand the bot over: its session and store are in the database
  const vault = sharedState ? databaseVault(sharedState(MATRIX)) : fileVault(config.dataDir);
  let client: MatrixClient | null = null;
  /** cross-signing, set up after the bot is connected: it is a few round trips nobody waits on */
  let crossSigning: Promise<void> | null = null;
  let session: MatrixSession | null = null;
  let persisted: PersistedIndexedDB | null = null;
  let syncStore: IndexedDBStore | null = null;
  let releaseLock: (() => void) | null = null;
  let stopWatching: (() => void) | null = null;
  let syncSaveTimer: NodeJS.Timeout | null = null;
  const health = new AdapterHealth(MATRIX, log);
  const bot: BotIdentity = { userId: '', displayName: '', commandPrefix: settings.commandPrefix };
  /** one "please re-send" per undecryptable session and sender, never a loop */
  const askedToResend = new Set<string>();
  const hinted: HintMemory = new Map();

  /** A 1:1 room: the bot and one person. */
  const isDirect = (room: Room): boolean => room.getJoinedMemberCount() + room.getInvitedMemberCount() <= 2;

  /** who acts where, for the core's allowlists before there is a message (an invite, an undecrypted event) */
  const someone = (userId: string, roomId: string, direct: boolean): Admittee => ({
    platform: MATRIX,
    channelId: roomId,
    isDirect: direct,
    author: { id: userId, name: userId, isBot: false },
    place: placeFacts(userId),
  });

  const transport = (matrix: MatrixClient): MatrixTransport => ({
    async send(roomId, type, content) {
      try {
        // the SDK's own types list each event type's content; ours is built per the spec
        const sent = await (matrix.sendEvent as (roomId: string, type: string, content: unknown) => Promise<{ event_id: string }>)(roomId, type, content);
        return sent.event_id;
      } catch (err) {
        if (err instanceof MatrixError && err.errcode === 'M_LIMIT_EXCEEDED') throw new RateLimitError(`matrix rate limit: ${err.message}`, Number(err.data.retry_after_ms ?? 1000));
        throw err;
      }
    },
    async typing(roomId) {
      await matrix.sendTyping(roomId, true, 20_000);
    },
    async upload(name, content, mimeType) {
      const uploaded = await matrix.uploadContent(Buffer.from(content), { name, type: mimeType });
      return uploaded.content_uri;
    },
    async redact(roomId, eventId) {
      await matrix.redactEvent(roomId, eventId);
    },
  });

  /**
   * The thread an event belongs to: its `m.thread` relation, or the event itself when it roots
   * a conversation's thread (the question that opened it).
   */
  async function threadOf(matrix: MatrixClient, room: Room, eventId: string): Promise<string | null> {
    let content: Record<string, unknown> | null = room.findEventById(eventId)?.getWireContent() ?? null;
    if (!content) content = (await matrix.fetchRoomEvent(room.roomId, eventId).catch(() => null))?.content ?? null;
    const relation = content?.['m.relates_to'] as { rel_type?: string; event_id?: string } | undefined;
    if (relation?.rel_type === 'm.thread' && relation.event_id) return relation.event_id;
    return (await engine.isConversationThread(MATRIX, room.roomId, eventId)) ? eventId : null;
  }

  async function askToResend(matrix: MatrixClient, room: Room, event: MatrixEvent): Promise<void> {
    const session = (event.getWireContent() as { session_id?: string }).session_id ?? event.getId();
    const key = `${room.roomId}|${event.getSender()}|${session}`;
    if (askedToResend.has(key)) return;
    askedToResend.add(key);
    log.warn('matrix: could not decrypt a message', { room: room.roomId, sender: event.getSender(), reason: event.decryptionFailureReason });
    const relation = event.getWireContent()['m.relates_to'] as { rel_type?: string; event_id?: string } | undefined;
    const threadRoot = relation?.rel_type === 'm.thread' ? (relation.event_id ?? null) : null;
    const reply = new MatrixReply(transport(matrix), { roomId: room.roomId, threadRoot, sourceEventId: null, encrypted: true, isDirect: isDirect(room) }, settings.editIntervalMs);
    await reply.post(`Sorry ${room.getMember(event.getSender() ?? '')?.name ?? ''}, I could not decrypt your message — its keys never reached me. Please send it again; if this keeps happening, check that your client shares keys with unverified devices or verify my session.`.replace('Sorry , ', 'Sorry, '));
  }

  /** Waits for late room keys; false when they did not come. */
  async function decrypted(matrix: MatrixClient, event: MatrixEvent): Promise<boolean> {
    if (!event.isEncrypted()) return true;
    await matrix.decryptEventIfNeeded(event);
    if (!event.isDecryptionFailure()) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        event.off(MatrixEventEvent.Decrypted, onDecrypted);
        resolve(!event.isDecryptionFailure());
      }, LATE_KEYS_WAIT_MS);
      const onDecrypted = (): void => {
        if (event.isDecryptionFailure()) return;
        clearTimeout(timer);
        event.off(MatrixEventEvent.Decrypted, onDecrypted);
        resolve(true);
      };
      event.on(MatrixEventEvent.Decrypted, onDecrypted);
    });
  }

  /** `catchingUp`: an event from the history after a start, not from the sync */
  async function onEvent(matrix: MatrixClient, event: MatrixEvent, room: Room, catchingUp = false): Promise<void> {
    const sender = event.getSender();
    if (!sender || sender === bot.userId || event.isRedacted()) return;
    if (Date.now() - event.getTs() > settings.catchUpMinutes * 60_000) return;
    const direct = isDirect(room);
    // before decrypting: nobody outside the allowlists is asked to re-send
    if (!engine.mayAct(someone(sender, room.roomId, direct))) return;
    // still m.room.encrypted: keys never came (or this client runs without crypto)
    // from the history, an old message whose keys never came was asked about when it came
    if (!(await decrypted(matrix, event)) || event.getType() === 'm.room.encrypted') return catchingUp ? undefined : askToResend(matrix, room, event);
    const type = event.getType();
    if (type !== 'm.room.message' && type !== 'm.reaction') return;
    const content = event.getOriginalContent() as Record<string, unknown>;
    const raw: RoomEventLike = { event_id: event.getId()!, room_id: room.roomId, sender, type, origin_server_ts: event.getTs(), content };
    const relation = content['m.relates_to'] as { rel_type?: string; event_id?: string } | undefined;
    const member = room.getMember(sender);
    const inbound = eventInbound(raw, {
      bot,
      isDirect: direct,
      isAdmin: (member?.powerLevel ?? 0) >= 100,
      authorName: member?.name ?? sender,
      attachments: type === 'm.room.message' ? await attachmentsOf(matrix, content) : [],
      threadOfOriginal: relation?.rel_type === 'm.replace' && relation.event_id ? await threadOf(matrix, room, relation.event_id) : null,
    });
    if (!inbound) return;
    if ((await engine.admit(inbound)) !== 'admitted') return;
    const threadRoot = inbound.kind === 'action' ? await threadOf(matrix, room, inbound.action!.targetMessageId) : inbound.threadId;
    // a reaction's place is its answer's thread: ⏹ on an answer still streaming finds its conversation there
    if (inbound.kind === 'action') inbound.threadId = threadRoot;
    const reply = new MatrixReply(
      transport(matrix),
      { roomId: room.roomId, threadRoot, sourceEventId: inbound.kind === 'message' ? inbound.messageId : null, encrypted: room.hasEncryptionStateEvent(), isDirect: direct },
      settings.editIntervalMs,
      hinted,
    );
    await engine.handle(inbound, reply);
  }

  function onInvite(matrix: MatrixClient, room: Room): void {
    const inviter = room.getMember(bot.userId)?.events.member?.getSender() ?? '';
    const accept = engine.mayAct(someone(inviter, room.roomId, false));
    const work = accept ? matrix.joinRoom(room.roomId) : matrix.leave(room.roomId);
    work.then(
      () => log.info(`matrix: ${accept ? 'joined' : 'declined the invite to'} ${room.roomId} (invited by ${inviter || 'unknown'})`),
      (err) => log.warn(`matrix: could not ${accept ? 'join' : 'decline'} ${room.roomId}: ${errorMessage(err)}`),
    );
  }


  /** Saves the sync position soon after a sync, so a restart resumes there instead of replaying. */
  function saveSyncSoon(): void {
    if (!syncStore || syncSaveTimer) return;
    syncSaveTimer = setTimeout(() => {
      syncSaveTimer = null;
      syncStore?.save(true).catch((err) => log.warn(`matrix: saving the sync position failed: ${errorMessage(err)}`));
    }, SYNC_SAVE_DELAY_MS);
  }

  async function openStores(keys: StoreKeys): Promise<IndexedDBStore | MemoryStore> {
    if (!encryption) return new MemoryStore();
    // the SDK and its Rust crypto look for IndexedDB on the global object
    const fake = await import('fake-indexeddb');
    Object.assign(globalThis, { indexedDB: fake.indexedDB, IDBKeyRange: fake.IDBKeyRange, IDBDatabase: fake.IDBDatabase, IDBTransaction: fake.IDBTransaction, IDBRequest: fake.IDBRequest, IDBObjectStore: fake.IDBObjectStore, IDBIndex: fake.IDBIndex, IDBCursor: fake.IDBCursor, IDBCursorWithValue: fake.IDBCursorWithValue, IDBFactory: fake.IDBFactory, IDBOpenDBRequest: fake.IDBOpenDBRequest, IDBVersionChangeEvent: fake.IDBVersionChangeEvent });
    persisted = new PersistedIndexedDB(fake.indexedDB as unknown as IdbFactory, vault.snapshot, keys.file, (err) => log.error(`matrix: saving the crypto store failed: ${errorMessage(err)}`));
    const restored = await persisted.restore();
    stopWatching = watchWrites(fake.IDBDatabase, () => persisted?.schedule());
    if (restored) log.info(`matrix: crypto store restored from ${vault.where}`);
    syncStore = new IndexedDBStore({ indexedDB: fake.indexedDB, dbName: 'threadloom-sync' });
    await syncStore.startup();
    return syncStore;
  }

  return {
    platform: MATRIX,
    client: () => client,
    session: () => session,
    /** there once connected: the room state it reads is the client's */
    get directory() {
      return client ? createMatrixDirectory(client) : undefined;
    },
    async start() {
      const startedAt = performance.now();
      releaseLock = vault.lock();
      quietGlobalSdkLogging(log);
      try {
        const keys = await vault.keys(settings.storeKey);
        if (keys.source === 'generated') log.info(`matrix: generated a store key in ${vault.where}; set MATRIX_STORE_KEY to keep it elsewhere`);
        session = await resolveSession(
          { homeserverURL: settings.homeserverURL!, accessToken: settings.accessToken, deviceId: settings.deviceId, userId: settings.userId, password: settings.password },
          vault,
          keys.file,
          log,
        );
        const store = await openStores(keys);
        const matrix = createClient({
          baseUrl: session.homeserverURL,
          accessToken: session.accessToken,
          userId: session.userId,
          deviceId: session.deviceId,
          store,
          logger: sdkLogger(log),
        });
        client = matrix;
        bot.userId = session.userId;
        if (encryption) await initQuietCrypto(matrix, keys.crypto);
        matrix.on(RoomEvent.Timeline, (event, room, toStartOfTimeline, removed, data) => {
          if (toStartOfTimeline || removed || !room || data?.liveEvent === false) return;
          void health.guard('event', () => onEvent(matrix, event, room));
        });
        matrix.on(RoomEvent.MyMembership, (room, membership) => {
          if (membership === 'invite') onInvite(matrix, room);
        });
        matrix.on(ClientEvent.Sync, (state, _prev, data) => {
          if (state === SyncState.Syncing) saveSyncSoon();
          if (state === SyncState.Error) health.remember(data?.error ?? 'sync failed');
          health.connected = state === SyncState.Syncing || state === SyncState.Prepared || state === SyncState.Catchup;
        });
        const startOptions: IStartClientOpts = { initialSyncLimit: 20 };
        await matrix.startClient(startOptions);
        await syncedOnce(matrix);
        const profile = await matrix.getProfileInfo(session.userId).catch(() => ({ displayname: undefined }));
        bot.displayName = profile.displayname ?? session.userId.slice(1).split(':')[0]!;
        health.connected = true;
        // what a stopped instance received and left unhandled, in the background
        void catchUp(matrix, engine, { botUserId: session.userId, catchUpMinutes: settings.catchUpMinutes, log }, (event, room) => health.guard('event', () => onEvent(matrix, event, room, true))).then(
          (seen) => seen > 0 && log.info(`matrix: catch-up went through ${seen} recent events`),
          (err) => log.warn(`matrix: catch-up failed: ${errorMessage(err)}`),
        );
        // it logs its own failure; Element shows the device as verified once it is done
        if (encryption) crossSigning = setUpCrossSigning(matrix, session, settings.password, log);
        log.info(`matrix: connected as ${session.userId} (${bot.displayName}), device ${session.deviceId}${encryption ? ', end-to-end encryption on' : ''}, ready in ${Math.round(performance.now() - startedAt)} ms`);
      } catch (err) {
        health.remember(err);
        await this.stop();
        throw err;
      }
    },
    async stop() {
      health.connected = false;
      if (syncSaveTimer) clearTimeout(syncSaveTimer);
      syncSaveTimer = null;
      // its keys belong in the crypto store saved below; a homeserver that does not answer holds the stop 5 s at most
      if (crossSigning) await Promise.race([crossSigning, new Promise((resolve) => setTimeout(resolve, CROSS_SIGNING_STOP_WAIT_MS).unref())]);
      crossSigning = null;
      client?.stopClient();
      await syncStore?.save(true).catch(() => undefined);
      await persisted?.flush().catch((err) => log.error(`matrix: saving the crypto store failed: ${errorMessage(err)}`));
      stopWatching?.();
      stopWatching = null;
      releaseLock?.();
      releaseLock = null;
    },
    status(): AdapterStatus {
      return health.status(session ? `as ${session.userId}` : 'connected');
    },
  };
}
