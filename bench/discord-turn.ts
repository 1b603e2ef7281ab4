/** A DM on the fake Discord, timed as the person in it sees it: shared by bench:chat and bench:soak. */
import type { FakeDiscord } from '../test/fakes/discord/index.js';

const POLL_MS = 2;
const ANSWER_TIMEOUT_MS = 30_000;

export interface DiscordTurn {
  firstPost: number;
  finalEdit: number;
  /** writes of the answer message: 1 when posted once */
  writes: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends `question` as a DM from `authorId` and waits for the bot's answer (the message that got the
 * Regenerate button), timed by the fake's own record of each REST request (`at`, when it arrived), so the polling
 * here adds nothing to the figures.
 */
export async function discordTurn(discord: FakeDiscord, authorId: string, question: string, answerWords: number): Promise<DiscordTurn> {
  const known = new Set(discord.dmMessages(authorId).map((m) => m.id));
  const from = discord.rest.length;
  const sentAt = Date.now();
  discord.dmSays({ content: question, authorId });
  const deadline = sentAt + ANSWER_TIMEOUT_MS;
  for (;;) {
    const answer = discord.dmMessages(authorId).find((m) => !known.has(m.id) && JSON.stringify(m.components).includes('tl:regen'));
    if (answer) {
      const writes = discord.rest.slice(from).filter((r) => (r.method === 'POST' && r.path === `/channels/${answer.channelId}/messages`) || (r.method === 'PATCH' && r.path === `/channels/${answer.channelId}/messages/${answer.id}`));
      if (answer.content.trim().split(/\s+/).filter((w) => w === 'tok').length !== answerWords) throw new Error(`unexpected answer on Discord: ${JSON.stringify(answer.content)}`);
      return { firstPost: writes[0]!.at - sentAt, finalEdit: writes.at(-1)!.at - sentAt, writes: writes.length };
    }
    if (Date.now() > deadline) throw new Error(`no answer on the fake Discord within 30 s to ${JSON.stringify(question)}`);
    await sleep(POLL_MS);
  }
}
