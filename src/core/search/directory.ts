/**
 * What search needs from a chat platform, an adapter's optional `directory` that the runtime
 * registers with the engine while it runs: who may read which channel, and how to link to a message.
 * A platform without a directory shows a user only the conversations they wrote in.
 */

/** Where a stored message lives on its platform. */
export interface MessageRef {
  channelId: string;
  /** the conversation's thread ('' or null when it is not in a thread) */
  threadId: string | null;
  /** the platform's id for the message (first part when it was split), when one is known */
  platformMessageId: string | null;
}

export interface PlatformDirectory {
  /**
   * Of the channels given, those this user can read now: member of a private channel, room or
   * DM; able to view a public one. Never throws: a channel it cannot check is not visible.
   */
  visibleChannels(userId: string, channelIds: readonly string[]): Promise<Set<string>>;
  /** A link that opens the message (or else its thread or channel) in the platform's client. */
  permalink(ref: MessageRef): Promise<string | null>;
}

/** The console has one local user, who sees everything. */
export const OPEN_DIRECTORY: PlatformDirectory = {
  visibleChannels: async (_userId, channelIds) => new Set(channelIds),
  permalink: async () => null,
};
