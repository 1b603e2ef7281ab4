/** Shapes shared by the fake homeserver's parts, and what tests read back from it. */

export type Json = Record<string, unknown>;

/** Per-user sending limit, like Synapse's `rc_message`: `burst` events at once, then `perSecond`. */
export interface RateLimit {
  burst: number;
  perSecond: number;
}

export interface FakeMatrixOptions {
  /** the server name in user and room ids (default `localhost`) */
  serverName?: string;
  /** limit on events a user sends over HTTP; `true` is Synapse's shape at test speed (burst 10, then 5/s); off by default */
  rateLimit?: RateLimit | boolean;
  /** the clock the rate limit refills by (default `Date.now`): a frozen one makes a test's 429s independent of the machine's speed */
  now?: () => number;
}

/** An account on the fake; `accessToken` and `deviceId` are its first device. */
export interface RegisteredUser {
  userId: string;
  accessToken: string;
  deviceId: string;
}

export interface RegisterInput {
  displayName?: string;
  /** for `POST /login` (default: the localpart) */
  password?: string;
}

/** What every event has, stored or served. */
interface EventFields {
  event_id: string;
  type: string;
  sender: string;
  content: Json;
  origin_server_ts: number;
  state_key?: string;
  redacts?: string;
}

/** An event as the fake keeps it; clients get the client-server format (`MatrixEventJson`). */
export interface StoredEvent extends EventFields {
  room_id: string;
  /** order in the server's stream (sync tokens count these) */
  position: number;
  /** the access token and transaction id it was sent with over HTTP */
  txn?: { token: string; txnId: string };
  prevContent?: Json;
  replacesState?: string;
  /** the `m.room.redaction` that redacted it */
  redactedBy?: string;
}

/** An event in the client-server format (`/sync` leaves out `room_id`). */
export interface MatrixEventJson extends EventFields {
  room_id?: string;
  unsigned?: Json;
}

export type Membership = 'join' | 'invite' | 'leave' | 'ban' | 'knock';

export interface CreateRoomInput {
  name?: string;
  topic?: string;
  /** a DM: the invitees' member events carry `is_direct` and the preset is trusted_private_chat */
  isDirect?: boolean;
  invite?: string[];
  /** users who join right away (world only) */
  join?: string[];
  /** adds `m.room.encryption` (megolm) to the initial state */
  encrypted?: boolean;
  /** join rule `public` (default `invite`) */
  isPublic?: boolean;
  /** local part of an alias, `#<alias>:<server>` */
  alias?: string;
  /** extra initial state events */
  initialState?: Array<{ type: string; state_key?: string; content: Json }>;
}

export interface SayOptions {
  /** the thread root: `m.thread` relation with the reply fallback, as Element sends it */
  thread?: string;
  /** a rich reply (`m.in_reply_to`), outside threads */
  replyTo?: string;
  /** users in `m.mentions` (and a pill in the body) */
  mentions?: string[];
  /** an HTML body */
  html?: string;
}

/** One HTTP request the fake answered. */
export interface RequestRecord {
  method: string;
  path: string;
  /** the query string, without `?` */
  query: string;
  /** the route's template, e.g. `PUT /v3/rooms/:roomId/send/:type/:txnId`; null when unknown */
  route: string | null;
  userId: string | null;
  status: number;
  errcode?: string;
  at: number;
}

export interface UnknownRoute {
  method: string;
  path: string;
}

export interface TypingRecord {
  roomId: string;
  userId: string;
  typing: boolean;
  timeoutMs: number | null;
  at: number;
}

export interface ReceiptRecord {
  roomId: string;
  userId: string;
  receiptType: string;
  eventId: string;
  threadId: string | null;
  at: number;
}

export interface MediaItem {
  mxc: string;
  contentType: string;
  filename: string | null;
  data: Buffer;
  uploader: string;
}
