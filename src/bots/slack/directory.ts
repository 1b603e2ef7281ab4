import { webApi } from '@slack/bolt';
import type { MessageRef, PlatformDirectory } from '../../core/search/directory.js';
import { Expiring, mapBounded } from '../lookups.js';

const CACHE_MS = 60_000;
const CONCURRENCY = 4;
const MEMBERS_PAGE = 200;
/**
 * The client retries rate-limited calls for many minutes: a search does not wait that long. What
 * was not checked by then counts as not visible (and is asked again next time).
 */
const DEADLINE_MS = 15_000;
/** a Slack message timestamp, `1732270000.000100` */
const TS = /^\d+\.\d+$/;

/**
 * Where a stored message is: the adapter stores `channel:ts` (see `messageKey`); ids that are no
 * message (`command:<trigger>`, `C…:ephemeral-…`, `C…:file-…`) give none. A bare ts is taken too.
 */
export function slackMessageOf(platformMessageId: string | null, channelId: string): { channel: string; ts: string } | null {
  if (!platformMessageId) return null;
  const at = platformMessageId.lastIndexOf(':');
  const channel = at < 0 ? channelId : platformMessageId.slice(0, at);
  const ts = platformMessageId.slice(at + 1);
  return TS.test(ts) && channel ? { channel, ts } : null;
}

interface ChannelKind {
  /** a public channel: every full member of the workspace can read it */
  open: boolean;
}

/**
 * Who may read what on Slack. A public channel is readable by every full member of the workspace
 * (guests only see the channels they were added to); a private channel, DM or group DM only by
 * its members. Needs the scopes `channels:read`, `groups:read`, `im:read`, `mpim:read` and
 * `users:read`; where the bot may not look (not in a private channel), nothing is visible.
 */
export function createSlackDirectory(client: webApi.WebClient): PlatformDirectory {
  const kinds = new Expiring<ChannelKind>(CACHE_MS);
  const memberLists = new Expiring<Set<string>>(CACHE_MS);
  const fullMembers = new Expiring<boolean>(CACHE_MS);
  const verdicts = new Expiring<boolean>(CACHE_MS);
  let workspaceUrl: Promise<string | null> | null = null;

  const kindOf = (channel: string): Promise<ChannelKind> =>
    kinds.getOrLoad(channel, async () => {
      const info = (await client.conversations.info({ channel })).channel;
      if (!info) throw new Error(`no channel in conversations.info for ${channel}`);
      return { open: info.is_channel === true && info.is_private !== true && info.is_im !== true && info.is_mpim !== true };
    });

  const membersOf = (channel: string): Promise<Set<string>> =>
    memberLists.getOrLoad(channel, async () => {
      const members = new Set<string>();
      let cursor: string | undefined;
      do {
        const page = await client.conversations.members({ channel, limit: MEMBERS_PAGE, ...(cursor ? { cursor } : {}) });
        for (const id of page.members ?? []) members.add(id);
        cursor = page.response_metadata?.next_cursor || undefined;
      } while (cursor);
      return members;
    });

  /** a member of the workspace who is no guest; when unsure, no */
  const isFullMember = (userId: string): Promise<boolean> =>
    fullMembers.getOrLoad(userId, async () => {
      try {
        const { user } = await client.users.info({ user: userId });
        return Boolean(user && !user.deleted && !user.is_restricted && !user.is_ultra_restricted);
      } catch {
        return false;
      }
    });

  async function canRead(userId: string, channel: string): Promise<boolean> {
    try {
      const kind = await kindOf(channel);
      if (kind.open && (await isFullMember(userId))) return true;
      return (await membersOf(channel)).has(userId);
    } catch (err) {
      // Slack's answer (channel_not_found, not_in_channel, missing_scope, …) holds a while;
      // a failure to ask (network, rate limit) is asked again next time
      if ((err as { code?: string }).code === webApi.ErrorCode.PlatformError) return false;
      throw err;
    }
  }

  async function permalinkOf(channel: string, ts: string): Promise<string | null> {
    try {
      return (await client.chat.getPermalink({ channel, message_ts: ts })).permalink ?? null;
    } catch {
      return null;
    }
  }

  /** `https://<workspace>.slack.com/` from auth.test: a channel's link without a message */
  function workspace(): Promise<string | null> {
    workspaceUrl ??= client.auth.test().then(
      (auth) => auth.url ?? null,
      () => {
        workspaceUrl = null;
        return null;
      },
    );
    return workspaceUrl;
  }

  return {
    async visibleChannels(userId, channelIds) {
      const visible = new Set<string>();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), DEADLINE_MS);
      });
      try {
        await mapBounded([...new Set(channelIds)], CONCURRENCY, async (channel) => {
          const verdict = verdicts.getOrLoad(`${userId}\u0000${channel}`, () => canRead(userId, channel));
          if (await Promise.race([verdict.catch(() => false), deadline])) visible.add(channel);
        });
      } finally {
        clearTimeout(timer);
      }
      return visible;
    },

    async permalink(ref: MessageRef) {
      const message = slackMessageOf(ref.platformMessageId, ref.channelId);
      const link = (message && (await permalinkOf(message.channel, message.ts))) || (ref.threadId && TS.test(ref.threadId) ? await permalinkOf(ref.channelId, ref.threadId) : null);
      if (link) return link;
      const base = await workspace();
      return base ? `${base.endsWith('/') ? base : `${base}/`}archives/${ref.channelId}` : null;
    },
  };
}
