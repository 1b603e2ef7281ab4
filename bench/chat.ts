/** What the benchmarks hand the engine: a platform with no network, and its messages. */
import type { Inbound, Reply } from '../src/core/inbound.js';

/** An in-process adapter: what a platform would receive, with no network in between. */
export class NullReply implements Reply {
  readonly capabilities = { maxMessageLength: 2000, minEditIntervalMs: 1000, markdown: 'commonmark' as const, buttons: true, threads: false };
  private n = 0;
  async post(): Promise<string> {
    return `r${++this.n}`;
  }
  async edit(): Promise<void> {}
  async typing(): Promise<void> {}
}

let events = 0;

/** A direct message from `user`, each with its own event id. */
export function message(user: string, text: string): Inbound {
  const n = ++events;
  return {
    platform: 'bench', eventId: `e${n}`, channelId: `dm-${user}`, threadId: null, messageId: `m${n}`,
    author: { id: user, name: user, isBot: false }, text, attachments: [], replyTo: null,
    mentionsBot: false, isDirect: true, kind: 'message',
  };
}
