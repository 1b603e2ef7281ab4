import { afterEach, describe, expect, it } from 'vitest';
import { answerRequests, until } from '../support/wait.js';
import { startSlackWorld, type SlackWorld } from '../support/slack.js';

/**
 * `/tl model X` given in a channel, not in a thread: every question there opens a thread of its
 * own, so the setting is for the conversations started next, and the reply says so.
 */

let world: SlackWorld | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

describe('a setting given in a channel', () => {
  it('should apply /tl model to the next conversation started in the channel, and say that it does', async () => {
    world = await startSlackWorld('socket');
    const { slack, rt } = world;
    await slack.slashCommand({ text: 'model openai/gpt-4o' });
    const said = await until(() => slack.ephemeral(slack.channelId).find((m) => m.text.includes('gpt-4o')));
    expect(said.text).toContain('New conversations started in this channel will use openai/gpt-4o');

    const root = slack.userSays({ text: `<@${slack.botUserId}> which model are you?`, mentionsBot: true });
    await until(() => slack.messages(slack.channelId, root).find((m) => m.user === slack.botUserId && m.text.startsWith('Echo: which model')));
    expect(answerRequests(rt).at(-1)!.body.model).toBe('gpt-4o');

    // and the next one too, until it is reset
    await slack.slashCommand({ text: 'model reset' });
    await until(() => slack.ephemeral(slack.channelId).find((m) => m.text.includes("Experience's model again")));
    const next = slack.userSays({ text: `<@${slack.botUserId}> and now?`, mentionsBot: true });
    await until(() => slack.messages(slack.channelId, next).find((m) => m.user === slack.botUserId && m.text.startsWith('Echo: and now')));
    expect(answerRequests(rt).at(-1)!.body.model).toBe('gpt-4o-mini');
  });

  it('should point /tl experience use in a channel to binding, changing nothing', async () => {
    world = await startSlackWorld('socket');
    const { slack } = world;
    await slack.slashCommand({ text: 'experience use homelab' });
    const said = await until(() => slack.ephemeral(slack.channelId).find((m) => m.text.includes('bind homelab')));
    expect(said.text).toContain("Switch inside a conversation's thread");
  });
});
