import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DISCORD_MESSAGE_LIMIT } from '../../src/bots/discord/reply.js';
import type { FakeDiscord } from '../fakes/discord/index.js';
import { GENERAL, startDiscordWorld, until, type DiscordWorld } from '../support/discord.js';
import type { TestRuntime } from '../support/runtime.js';

let world: DiscordWorld;
let discord: FakeDiscord;
let rt: TestRuntime;
let thread: { id: string };

beforeEach(async () => {
  world = await startDiscordWorld();
  ({ discord, rt } = world);
  discord.userSays({ channelId: GENERAL, content: `<@${discord.botUserId}> we run Proxmox on three nodes`, mentionsBot: true });
  thread = await until(() => discord.threads[0]);
  await until(() => discord.messagesIn(thread.id).find((m) => JSON.stringify(m.components).includes('tl:regen')));
});

afterEach(async () => {
  await world.close();
});

/** Runs a slash command in the thread; resolves to everything the interaction answered. */
async function slash(name: string, options: Record<string, string> = {}): Promise<{ text: string; ephemeral: boolean; files: string[] }> {
  const { id } = discord.interaction({ type: 'command', channelId: thread.id, name, options });
  const responses = () => discord.interactionResponses.filter((r) => r.interactionId === id);
  // the reply itself (type 4), or a deferral (type 5) filled in by an edit of @original
  await until(() => responses().some((r) => r.data?.content || r.files.length));
  const all = responses();
  return {
    text: all.map((r) => r.data?.content ?? '').filter(Boolean).join('\n'),
    ephemeral: all.some((r) => r.kind === 'callback' && ((r.data?.flags ?? 0) & 64) === 64),
    files: all.flatMap((r) => r.files.map((f) => f.name)),
  };
}

describe('Discord slash commands', () => {
  it('should run every command of the core table through INTERACTION_CREATE', async () => {
    expect(await slash('help')).toMatchObject({ ephemeral: true, text: expect.stringContaining('`regen`') });
    expect((await slash('models')).text).toContain('openai/gpt-4o-mini');
    expect((await slash('model')).text).toBe('Model: openai/gpt-4o-mini (from default).');
    expect(await slash('model', { model: 'anthropic/claude-haiku-4-5' })).toMatchObject({ ephemeral: true, text: 'This conversation now uses anthropic/claude-haiku-4-5.' });
    expect((await slash('persona', { persona: 'homelab' })).text).toBe('Persona switched to Homelab Buddy (from homelab).');
    expect((await slash('experience', { action: 'list' })).text).toContain('`shell`');
    expect((await slash('experience', { action: 'use', experience: 'shell' })).text).toBe('This conversation now uses the Linux & shell helper Experience.');
    expect((await slash('bind', { experience: 'homelab' })).text).toBe('Only Threadloom admins can use `bind`.');
    expect((await slash('usage')).text).toMatch(/^Today \(UTC\): 1 turns/);
    const found = await slash('search', { query: 'three proxmox nodes', scope: 'all' });
    expect(found.ephemeral).toBe(true);
    expect(found.text).toContain('we run Proxmox on three nodes');
    expect(found.text).toContain(`https://discord.com/channels/${discord.guildId}/${thread.id}/`);
    expect((await slash('branch', { to: 'list' })).text).toContain('single branch');
    expect((await slash('stop')).text).toBe('Nothing is being written right now.');

    const regen = await slash('regen');
    expect(regen.text).toContain('Echo: we run Proxmox on three nodes');
    expect((await slash('branch', { to: 'list' })).text).toContain('Branch 2 of 2');

    rt.anthropic.script({ answer: 'Three Proxmox nodes were discussed.' });
    expect((await slash('summary')).text).toBe('Summary (2 messages):\nThree Proxmox nodes were discussed.');
    expect(await slash('export', { format: 'json' })).toMatchObject({ files: ['conversation-1.json'] });
    expect((await slash('fork')).text).toMatch(/^Forked into a new thread/);
    expect(discord.threads).toHaveLength(2);
    expect((await slash('new')).text).toBe('Fresh start: your next message begins a new conversation.');
  }, 30_000);

  it('should let a configured admin bind the channel', async () => {
    await world.close();
    const ADMIN = '100000000000000777';
    world = await startDiscordWorld((c) => ({ ...c, discord: { ...c.discord, adminUsers: [ADMIN] } }));
    ({ discord, rt } = world);
    discord.addUser({ id: ADMIN, username: 'ops-lead' });
    const { id } = discord.interaction({ type: 'command', channelId: GENERAL, userId: ADMIN, name: 'bind', options: { experience: 'homelab', model: 'ollama/llama3.2' } });
    const done = await until(() => discord.interactionResponses.find((r) => r.interactionId === id && r.data?.content));
    expect(done.data.content).toBe('This channel is now bound to Homelab & DevOps buddy with ollama/llama3.2. New conversations here use it.');
  });

  it('should take budget set and budget override typed in the args option', async () => {
    const budget = discord.registeredCommands.find((c) => c.name === 'budget');
    expect(budget?.options?.map((o: { name: string; type: number; required?: boolean }) => [o.name, o.type, o.required ?? false])).toEqual([['args', 3, false]]);

    await world.close();
    const ADMIN = '100000000000000777';
    world = await startDiscordWorld((c) => ({ ...c, discord: { ...c.discord, adminUsers: [ADMIN] } }));
    ({ discord, rt } = world);
    discord.addUser({ id: ADMIN, username: 'ops-lead' });
    const budgetCommand = async (args: string) => {
      const { id } = discord.interaction({ type: 'command', channelId: GENERAL, userId: ADMIN, name: 'budget', options: { args } });
      const done = await until(() => discord.interactionResponses.find((r) => r.interactionId === id && r.data?.content));
      return done.data.content as string;
    };

    expect(await budgetCommand('set discord:81234 daily tokens 50k')).toBe('Daily limit for discord:81234 is now 50,000 tokens.');
    expect(rt.budgets.limitRules.slot('user', 'discord:81234', 'daily', 'tokens')).toEqual({ limit: 50_000, source: 'admin' });
    expect(await budgetCommand('override discord:81234 tokens 20000 for 24h')).toMatch(/^discord:81234 gets 20,000 tokens extra on every limit their turns meet until /);
    expect(rt.budgets.grantsOf('discord:81234').map((g) => [g.unit, g.amount])).toEqual([['tokens', 20_000]]);
    expect(await budgetCommand('discord:81234')).toContain('Budgets for discord:81234 (UTC periods):');
    const audit = await rt.database.db.selectFrom('audit_log').select(['actor', 'action']).where('action', 'like', 'budget.%').orderBy('id').execute();
    expect(audit).toEqual([
      { actor: `discord:${ADMIN}`, action: 'budget.set' },
      { actor: `discord:${ADMIN}`, action: 'budget.override' },
    ]);
  });

  it('should suggest only models and Experiences that exist', async () => {
    const { id } = discord.interaction({ type: 'autocomplete', channelId: thread.id, name: 'model', options: { model: 'haiku' }, focused: 'model' });
    const response = await until(() => discord.interactionResponses.find((r) => r.interactionId === id));
    expect(response.type).toBe(8);
    expect(response.data.choices.map((c: { value: string }) => c.value)).toEqual(['anthropic/claude-haiku-4-5']);
  });

  it('should split a 9,000-character answer with code into messages under the limit, fences intact', async () => {
    const block = Array.from({ length: 60 }, (_, i) => `kubectl get pods -n team-${i} -o wide   # check namespace ${i}`).join('\n');
    const prose = 'Check each namespace in turn and note which pods restart. '.repeat(25);
    const answer = `${prose}\n\n\`\`\`bash\n${block}\n\`\`\`\n\n${prose}\n\n\`\`\`bash\n${block}\n\`\`\`\n\nDone.`;
    expect(answer.length).toBeGreaterThan(9_000);
    // the first turn's title request comes after its answer: let it take its turn before scripting this one
    await until(() => rt.openai.chatRequests().some((r) => String(r.body.messages?.[0]?.content).startsWith('Write a title')));
    rt.openai.script({ answer, chunkSize: 500 });
    discord.userSays({ channelId: thread.id, content: 'give me the full runbook' });
    // six messages at Discord's five writes per five seconds take a while on a loaded machine
    await until(() => discord.messagesIn(thread.id).some((m) => m.content.startsWith('Done.') || m.content.includes('\nDone.')), 30_000);
    const parts = discord.messagesIn(thread.id).slice(-6).filter((m) => m.content.length > 0);
    const answerParts = parts.slice(parts.findIndex((m) => m.content.startsWith('Check each namespace')));
    expect(answerParts.length).toBeGreaterThanOrEqual(5);
    for (const part of answerParts) {
      expect(part.content.length).toBeLessThanOrEqual(DISCORD_MESSAGE_LIMIT);
      expect((part.content.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
    const rejoined = answerParts.map((m) => m.content).join('\n');
    for (let i = 0; i < 60; i++) expect(rejoined).toContain(`kubectl get pods -n team-${i} -o wide`);
    expect(discord.rateLimited).toBe(0);
  }, 40_000);

  it('should add a file given to /knowledge to the Experience\'s documents and say what it indexed', async () => {
    const body = '# Backups\n\nThe NAS snapshots run nightly at 02:00 and are kept for 30 days.';
    const files = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/markdown' }).end(body));
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(files.address() as AddressInfo).port}/backups.md`;
    try {
      await rt.deps.experiences.update('general', { knowledge: { chatAdd: 'everyone' } });
      const conversation = await rt.deps.db.selectFrom('conversations').selectAll().where('thread_id', '=', thread.id).executeTakeFirstOrThrow();
      const { id } = discord.interaction({
        type: 'command', channelId: thread.id, name: 'knowledge', options: { action: 'add' },
        attachments: { file: { filename: 'backups.md', url, size: body.length, contentType: 'text/markdown' } },
      });
      await until(() => discord.interactionResponses.some((r) => r.interactionId === id && r.data?.content?.includes('✓')));
      const docs = await rt.deps.knowledge!.list(conversation.experience_id);
      expect(docs.map((d) => d.title)).toEqual(['Backups']);
      expect(docs[0]!.source).toBe('chat');
    } finally {
      files.close();
    }
  });
});
