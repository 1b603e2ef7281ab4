import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DISCORD_MESSAGE_LIMIT } from '../../src/bots/discord/reply.js';
import type { FakeDiscord } from '../fakes/discord/index.js';
import { GENERAL, answerRequests, startDiscordWorld, until, type DiscordWorld } from '../support/discord.js';
import type { TestRuntime } from '../support/runtime.js';

let world: DiscordWorld;
let discord: FakeDiscord;
let rt: TestRuntime;

beforeEach(async () => {
  world = await startDiscordWorld();
  ({ discord, rt } = world);
});

afterEach(async () => {
  await world.close();
});

describe('Discord adapter', () => {
  it('should register the core commands as slash commands', () => {
    const names = discord.registeredCommands.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['model', 'models', 'persona', 'experience', 'bind', 'new', 'regen', 'branch', 'fork', 'summary', 'usage', 'export', 'stop', 'help']));
  });

  it('should open a thread on a mention, answer there, and continue without a mention', async () => {
    discord.userSays({ channelId: GENERAL, content: `<@${discord.botUserId}> why is my zpool degraded?`, mentionsBot: true });
    const thread = await until(() => discord.threads[0]);
    expect(thread.name).toBe('why is my zpool degraded?');
    const answer = await until(() => discord.messagesIn(thread.id).find((m) => m.content.startsWith('Echo:') && m.components.length > 0));
    expect(answer.content).toBe('Echo: why is my zpool degraded?');

    discord.userSays({ channelId: thread.id, content: 'it says one disk is FAULTED' });
    await until(() => discord.messagesIn(thread.id).find((m) => m.content === 'Echo: it says one disk is FAULTED'));
    const sent = answerRequests(rt).at(-1)!.body.messages;
    expect(sent.slice(1).map((m: { content: string }) => m.content)).toEqual(['why is my zpool degraded?', 'Echo: why is my zpool degraded?', 'it says one disk is FAULTED']);
  });

  it('should show typing before the first words of an answer', async () => {
    rt.openai.script({ stallBeforeFirstTokenMs: 300, answer: 'ready now' });
    discord.userSays({ channelId: GENERAL, content: `<@${discord.botUserId}> take your time`, mentionsBot: true });
    const thread = await until(() => discord.threads[0]);
    await until(() => discord.messagesIn(thread.id).find((m) => m.content === 'ready now'));
    const calls = discord.rest.filter((r) => r.path.startsWith(`/channels/${thread.id}/`)).map((r) => `${r.method} ${r.path.split('/').pop()}`);
    expect(calls.indexOf('POST typing')).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf('POST typing')).toBeLessThan(calls.indexOf('POST messages'));
  });

  it('should ignore chatter without a mention and messages from bots', async () => {
    discord.userSays({ channelId: GENERAL, content: 'lunch anyone?' });
    discord.userSays({ channelId: GENERAL, content: `<@${discord.botUserId}> hi`, mentionsBot: true, bot: true });
    await new Promise((r) => setTimeout(r, 300));
    expect(discord.threads).toHaveLength(0);
    expect(rt.openai.chatRequests()).toHaveLength(0);
  });

  it('should split a long answer into messages under 2000 characters without breaking code', async () => {
    const code = Array.from({ length: 80 }, (_, i) => `echo "line ${i} of the script"`).join('\n');
    rt.openai.script({ answer: `Here is the script:\n\n\`\`\`bash\n${code}\n\`\`\`\n\nRun it as root.`, chunkSize: 400 });
    discord.userSays({ channelId: GENERAL, content: `<@${discord.botUserId}> write me a long script`, mentionsBot: true });
    const thread = await until(() => discord.threads[0]);
    const messages = await until(() => {
      const all = discord.messagesIn(thread.id);
      return all.some((m) => m.content.endsWith('Run it as root.')) && all;
    });
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) {
      expect(m.content.length).toBeLessThanOrEqual(DISCORD_MESSAGE_LIMIT);
      expect((m.content.match(/```/g) ?? []).length % 2).toBe(0);
    }
  });

  it('should answer a slash command privately when it changes a setting', async () => {
    discord.userSays({ channelId: GENERAL, content: `<@${discord.botUserId}> hello`, mentionsBot: true });
    const thread = await until(() => discord.threads[0]);
    await until(() => discord.messagesIn(thread.id).find((m) => m.content === 'Echo: hello'));
    discord.interaction({ type: 'command', channelId: thread.id, name: 'model', options: { model: 'anthropic/claude-haiku-4-5' } });
    const response = await until(() => discord.interactionResponses.find((r) => JSON.stringify(r).includes('now uses anthropic/claude-haiku-4-5')));
    expect(JSON.stringify(response)).toContain('"flags":64');
  });

  it('should regenerate from the button under an answer', async () => {
    rt.openai.script({ answer: 'first try' }, { answer: 'Title' }, { answer: 'second try' });
    discord.userSays({ channelId: GENERAL, content: `<@${discord.botUserId}> name a distro`, mentionsBot: true });
    const thread = await until(() => discord.threads[0]);
    const first = await until(() => discord.messagesIn(thread.id).find((m) => m.content === 'first try' && m.components.length));
    discord.interaction({ type: 'button', channelId: thread.id, messageId: first.id, customId: 'tl:regen' });
    const second = await until(() => discord.messagesIn(thread.id).find((m) => m.content === 'second try' && m.components.length));
    expect(JSON.stringify(second.components)).toContain('2/2');
  });

  it('should stream by editing no faster than Discord allows, without a single 429', async () => {
    rt.openai.script({ answer: 'word '.repeat(120), chunkSize: 5, delayMs: 50 }); // ~6 s of streaming
    discord.userSays({ channelId: GENERAL, content: `<@${discord.botUserId}> talk for a while`, mentionsBot: true });
    const thread = await until(() => discord.threads[0]);
    const stopShown = await until(() => discord.messagesIn(thread.id).find((m) => JSON.stringify(m.components).includes('tl:stop')));
    expect(stopShown.content.startsWith('word')).toBe(true);
    const answer = await until(() => discord.messagesIn(thread.id).find((m) => JSON.stringify(m.components).includes('tl:regen')), 30_000);
    expect(answer.content).toBe('word '.repeat(120).trim());
    expect(JSON.stringify(answer.components)).not.toContain('tl:stop');
    expect(answer.editCount).toBeGreaterThanOrEqual(3);
    expect(discord.editsPerWindow(thread.id, 5_000)).toBeLessThanOrEqual(5);
    expect(discord.rateLimited).toBe(0);
  }, 40_000);

  it('should answer a DM without opening a thread', async () => {
    discord.dmSays({ content: 'hello in private' });
    await until(() => discord.dmMessages().find((m) => m.content === 'Echo: hello in private'));
    expect(discord.threads).toHaveLength(0);
  });

  it('should never let an answer ping everyone', async () => {
    rt.openai.script({ answer: '@everyone the server is down' });
    discord.userSays({ channelId: GENERAL, content: `<@${discord.botUserId}> announce it`, mentionsBot: true });
    const thread = await until(() => discord.threads[0]);
    await until(() => discord.messagesIn(thread.id).find((m) => m.content.includes('@everyone')));
    const posts = discord.rest.filter((r) => r.method === 'POST' && r.path.endsWith('/messages') && JSON.stringify(r.body).includes('@everyone'));
    expect(posts.length).toBeGreaterThan(0);
    for (const post of posts) expect(post.body.allowed_mentions).toEqual({ parse: [] });
  });

  it('should ignore people and channels outside the allowlists', async () => {
    await world.close();
    world = await startDiscordWorld((c) => ({ ...c, discord: { ...c.discord, allow: { guilds: [], channels: [], roles: [], users: ['100000000000000555'] }, allowDMs: false } }));
    ({ discord, rt } = world);
    discord.userSays({ channelId: GENERAL, content: `<@${discord.botUserId}> let me in`, mentionsBot: true });
    discord.dmSays({ content: 'and here?' });
    await new Promise((r) => setTimeout(r, 300));
    expect(discord.threads).toHaveLength(0);
    expect(discord.dmMessages()).toHaveLength(0);
    expect(rt.openai.chatRequests()).toHaveLength(0);
  });
});
