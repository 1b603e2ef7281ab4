/** Public types of the fake Discord server (gateway + REST). */

/** A user the fake knows. `bot` is true only for the bot itself. */
export interface FakeUser {
  id: string;
  username: string;
  globalName?: string | null;
  bot?: boolean;
}

export interface FakeRoleInput {
  id?: string;
  name: string;
  /** permission bits (bigint or decimal string); default 0 */
  permissions?: bigint | string;
}

export interface FakeMemberInput {
  userId: string;
  username?: string;
  roles?: string[];
  nick?: string | null;
}

/** A channel permission overwrite: `id` is a role (the guild id for @everyone) or a user. */
export interface FakeOverwriteInput {
  id: string;
  type: 'role' | 'member';
  /** permission bits (bigint or decimal string); default 0 */
  allow?: bigint | string;
  deny?: bigint | string;
}

export interface FakeChannelInput {
  id?: string;
  name?: string;
  /** Discord channel type: 0 text (default), 5 announcement, 11 public thread, 12 private thread, 4 category */
  type?: number;
  /** required for threads; category for text channels */
  parentId?: string | null;
  topic?: string | null;
  /** thread owner (default: the bot) */
  ownerId?: string;
  /** e.g. a private channel: deny @everyone (id: the guild id) ViewChannel, allow a role or member */
  permissionOverwrites?: FakeOverwriteInput[];
}

/** A guild to seed the fake with. Missing ids are generated. */
export interface FakeGuild {
  id?: string;
  name?: string;
  ownerId?: string;
  channels?: FakeChannelInput[];
  roles?: FakeRoleInput[];
  /** Members besides the bot (the bot is always a member). */
  members?: FakeMemberInput[];
}

export interface FakeDiscordOptions {
  /** Default: one guild "Test Guild" with text channel "general", a member "alice". */
  guilds?: FakeGuild[];
  botUserId?: string;
  /** Default: the bot user id (as for every modern Discord app). */
  applicationId?: string;
  botUsername?: string;
  /** Permissions of the bot's role in every guild. Default: a realistic bot set (no Administrator). */
  botPermissions?: bigint;
  /** When set, IDENTIFY/RESUME with another token are closed with 4004 (authentication failed). */
  token?: string;
  /** Gateway HELLO heartbeat_interval in ms (41250). */
  heartbeatIntervalMs?: number;
  /** the shard count GET /gateway/bot recommends (1) */
  shards?: number;
  /** Per-channel message-edit limit: `limit` edits per `windowMs` (5 per 5000 ms). */
  editLimit?: { limit?: number; windowMs?: number; advertise?: boolean };
  /** An interaction not answered within this many ms gets 404 Unknown interaction (3000, like Discord). */
  interactionTimeoutMs?: number;
}

export interface RecordedFile {
  /** multipart field name, e.g. `files[0]` */
  field: string;
  name: string;
  contentType: string;
  data: Buffer;
}

export interface RecordedRest {
  method: string;
  /** path after `/api/v10`, without the query, percent-decoded, e.g. `/webhooks/1/tok/messages/@original` */
  path: string;
  /** route template that answered, e.g. `POST /channels/:channelId/messages`, or `unknown` */
  route: string;
  query: Record<string, string>;
  /** parsed JSON body or multipart `payload_json`; `any` so tests can reach in freely */
  body: any;
  files: RecordedFile[];
  status: number;
  at: number;
}

export interface FakeAttachmentInput {
  filename: string;
  /** file bytes, served at the attachment's `url` (default: empty) */
  content?: string | Buffer;
  contentType?: string;
  width?: number;
  height?: number;
}

export interface FakeAttachment {
  id: string;
  filename: string;
  contentType: string;
  size: number;
  url: string;
  data: Buffer;
  /** data decoded as UTF-8 */
  text: string;
}

/** The current state of a message the bot posted (via REST, an interaction reply or a follow-up). */
export interface FakeSentMessage {
  id: string;
  channelId: string;
  content: string;
  components: any[];
  embeds: any[];
  attachments: FakeAttachment[];
  /** successful edits (channel edits, webhook edits, interaction UPDATE_MESSAGE) */
  editCount: number;
  flags: number;
  ephemeral: boolean;
  /** id of the message this one replies to */
  replyTo: string | null;
  via: 'channel' | 'interaction' | 'followup';
  interactionId: string | null;
  deleted: boolean;
  /** emoji the bot reacted with on this message */
  reactions: string[];
}

export interface FakeThread {
  id: string;
  name: string;
  parentId: string;
  guildId: string;
  type: number;
  /** the message the thread was started from (thread id = that message id, as on Discord) */
  starterMessageId: string | null;
  autoArchiveDuration: number;
  /** every name the thread had, oldest first */
  names: string[];
}

/** One answer the bot gave to an interaction: the callback, or a later webhook edit / follow-up / delete. */
export interface FakeInteractionResponse {
  interactionId: string;
  token: string;
  kind: 'callback' | 'edit' | 'followup' | 'delete';
  /** callback type (4 reply, 5 deferred reply, 6 deferred update, 7 update, 8 autocomplete result, 9 modal); null for webhook calls */
  type: number | null;
  /** callback `data`, or the webhook request body */
  data: any;
  files: RecordedFile[];
  /** the message created or changed, if any */
  messageId: string | null;
  /** that message's flags afterwards (64: ephemeral) */
  flags: number | null;
  at: number;
}

export interface RegisteredCommand {
  id: string;
  name: string;
  description: string;
  type: number;
  options: any[];
  guildId: string | null;
  raw: any;
}

export type FakeOptionValue = string | number | boolean;

/** A raw application-command option as Discord sends it (type inferred when missing). */
export interface FakeCommandOption {
  name: string;
  type?: number;
  value?: FakeOptionValue;
  focused?: boolean;
  options?: FakeCommandOption[];
}

interface InteractionBase {
  /** guild channel (default: first text channel) — ignored with `dm` */
  channelId?: string;
  userId?: string;
  /** send from the user's DM channel with the bot */
  dm?: boolean;
}

export type FakeInteractionInput =
  | (InteractionBase & {
      type: 'command';
      name: string;
      subcommand?: string;
      options?: Record<string, FakeOptionValue> | FakeCommandOption[];
      /** files given to attachment options, by option name: sent as `resolved.attachments` like Discord does */
      attachments?: Record<string, { filename: string; url: string; size: number; contentType: string }>;
    })
  | (InteractionBase & {
      type: 'autocomplete';
      name: string;
      subcommand?: string;
      options?: Record<string, FakeOptionValue> | FakeCommandOption[];
      /** name of the option being typed */
      focused: string;
    })
  | (InteractionBase & {
      /** 'button' is a component of type 2; 'component' takes `componentType` (3 string select, ...) */
      type: 'button' | 'component';
      /** the bot message carrying the component (its channel is used; `channelId` is ignored) */
      messageId: string;
      customId: string;
      componentType?: number;
      values?: string[];
    });

export interface FakeInteractionHandle {
  id: string;
  token: string;
}

export interface UserSaysInput {
  /** default: the first text channel of the first guild */
  channelId?: string;
  content: string;
  /** default: the default user ("alice") */
  authorId?: string;
  /** adds the bot to `mentions` (and `<@bot>` to the content if absent) */
  mentionsBot?: boolean;
  /** id of the message replied to */
  messageReference?: string;
  attachments?: FakeAttachmentInput[];
  /** the author is a bot (another one; default author then: "helperbot") */
  bot?: boolean;
}

export interface DmSaysInput {
  content: string;
  authorId?: string;
  attachments?: FakeAttachmentInput[];
  /** dispatch CHANNEL_CREATE for a new DM channel first (Discord itself does not) */
  announceChannel?: boolean;
}

export interface DropOptions {
  /** close code (4000: discord.js resumes; 1000: it re-identifies; 1006: terminate, no close frame) */
  code?: number;
  /** on the next RESUME also replay this many dispatches the client had already seen */
  redeliver?: number;
}
