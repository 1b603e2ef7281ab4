import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiscordAdapter } from '../../src/bots/discord/index.js';
import { DISCORD_MESSAGE_LIMIT } from '../../src/bots/discord/reply.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/index.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

const GUILD = '100000000000000001';
const GENERAL = '100000000000000010';

let discord: FakeDiscord;
let rt: TestRuntime;
let adapter: ReturnType<typeof createDiscordAdapter>;

beforeEach(async () => {
  discord = await startFakeDiscord({ guilds: [{ id: GUILD, name: 'Homelab', channels: [{ id: GENERAL, name: 'general' }] }] });
  rt = await startTestRuntime({
    config: (c) => ({ ...c, discord: { ...c.discord, token: 'fake-token', apiBaseURL: discord.apiUrl } }),
  });
  adapter = createDiscordAdapter(rt.engine);
  await adapter.start();
});

afterEach(async () => {
  await adapter.stop();
  await rt.shutdown();
  await discord.close();
});

async function until<T>(probe: () => T | undefined | null | false, timeoutMs = 8_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

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
    const sent = rt.openai.chatRequests().filter((r) => !JSON.stringify(r.body).includes('Write a title')).at(-1)!.body.messages;
    expect(sent.slice(1).map((m: { content: string }) => m.content)).toEqual(['why is my zpool degraded?', 'Echo: why is my zpool degraded?', 'it says one disk is FAULTED']);
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
    const answer = await until(() => discord.messagesIn(thread.id).find((m) => m.components.length > 0), 15_000);
    expect(answer.content).toBe('word '.repeat(120).trim());
    expect(answer.editCount).toBeGreaterThanOrEqual(3);
    expect(discord.editsPerWindow(thread.id, 5_000)).toBeLessThanOrEqual(5);
    expect(discord.rateLimited).toBe(0);
  }, 20_000);

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
});
