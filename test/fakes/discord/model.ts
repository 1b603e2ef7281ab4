/** Shapes of the fake's state records. */
export interface RoleState {
  id: string;
  name: string;
  permissions: bigint;
  position: number;
  botId: string | null;
}
export interface MemberState {
  userId: string;
  roles: string[];
  nick: string | null;
  joinedAt: string;
}
export interface GuildState {
  id: string;
  name: string;
  ownerId: string;
  roles: RoleState[];
  members: Map<string, MemberState>;
  joinedAt: string;
}
/** A channel permission overwrite: for a role (type 0; the guild id is @everyone) or a member (type 1). */
export interface OverwriteState {
  id: string;
  type: 0 | 1;
  allow: bigint;
  deny: bigint;
}
export interface ChannelState {
  id: string;
  type: number;
  name: string | null;
  guildId: string | null;
  parentId: string | null;
  topic: string | null;
  position: number;
  ownerId: string | null;
  archived: boolean;
  locked: boolean;
  autoArchiveDuration: number;
  recipientId: string | null;
  messageCount: number;
  lastMessageId: string | null;
  starterMessageId: string | null;
  /** created through REST by the bot (reported by `fake.threads`) */
  createdByBot: boolean;
  names: string[];
  /** permission overwrites of a guild channel (threads follow their parent's) */
  overwrites: OverwriteState[];
}
export interface AttachmentState {
  id: string;
  filename: string;
  contentType: string;
  data: Buffer;
  width?: number;
  height?: number;
}
export interface MessageState {
  id: string;
  channelId: string;
  authorId: string;
  content: string;
  components: any[];
  embeds: any[];
  attachments: AttachmentState[];
  flags: number;
  type: number;
  replyTo: string | null;
  editCount: number;
  editedAt: string | null;
  deleted: boolean;
  reactions: string[];
  via: 'user' | 'channel' | 'interaction' | 'followup';
  interactionId: string | null;
  nonce: string | number | null;
}
export interface InteractionState {
  id: string;
  token: string;
  type: number;
  channelId: string;
  guildId: string | null;
  userId: string;
  name: string | null;
  /** the message a component interaction was on */
  messageId: string | null;
  createdAt: number;
  callbackType: number | null;
  originalMessageId: string | null;
}
