import type { MatrixClient } from 'matrix-js-sdk';
import type { MessageRef, PlatformDirectory } from '../../core/search/directory.js';

/**
 * Who may read what on Matrix, from the room state the client keeps in sync (no requests): the
 * people joined to a room now. A room the bot is no longer in shows nobody, since what the bot
 * knows of its members stopped changing when it left. Links go through matrix.to, which opens
 * the user's own client, with the bot's server as a server that can join the room.
 */
export function createMatrixDirectory(client: MatrixClient): PlatformDirectory {
  return {
    async visibleChannels(userId, channelIds) {
      const visible = new Set<string>();
      for (const roomId of channelIds) {
        try {
          const room = client.getRoom(roomId);
          if (room?.getMyMembership() === 'join' && room.getMember(userId)?.membership === 'join') visible.add(roomId);
        } catch {
          // not visible
        }
      }
      return visible;
    },

    async permalink(ref: MessageRef) {
      const target = ref.platformMessageId?.startsWith('$') ? ref.platformMessageId : ref.threadId || null;
      const server = client.getDomain();
      const path = [ref.channelId, ...(target ? [target] : [])].map(encodeURIComponent).join('/');
      return `https://matrix.to/#/${path}${server ? `?via=${encodeURIComponent(server)}` : ''}`;
    },
  };
}
