import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FakeDiscord, FakeSentMessage } from '../fakes/discord/index.js';
import { GENERAL, GUILD, OWNER, answerRequests, startDiscordWorld, until, type DiscordWorld } from '../support/discord.js';
import type { TestRuntime } from '../support/runtime.js';
import { SCRIPTS, storedToolResults, toolResults, withHomelab } from '../support/tools.js';

const BOB = '100000000000000777';

let world: DiscordWorld;
let discord: FakeDiscord;
let rt: TestRuntime;

beforeEach(async () => {
  world = await startDiscordWorld();
  ({ discord, rt } = world);
  discord.addMember(GUILD, { userId: BOB, username: 'bob' });
});

afterEach(async () => {
  await world.close();
});

const customIds = (m: FakeSentMessage): string[] => JSON.stringify(m.components).match(/tl:[a-z]+/g) ?? [];

/** alice asks in #general; resolves to the thread the conversation opened */
async function ask(question: string): Promise<string> {
  discord.userSays({ channelId: GENERAL, content: `<@${discord.botUserId}> ${question}`, mentionsBot: true });
  return (await until(() => discord.threads[0])).id;
}

async function approvalPost(threadId: string): Promise<FakeSentMessage> {
  return until(() => discord.messagesIn(threadId).find((m) => m.content.includes('wants to run') && m.components.length > 0));
}

const finalAnswer = (threadId: string, text: string) =>
  until(() => discord.messagesIn(threadId).find((m) => m.content.includes(text) && customIds(m).includes('tl:regen')));

describe('tools on Discord', () => {
  it('should answer through a read-only tool and end the answer with the tools it used', async () => {
    const homelab = await withHomelab(rt);
    rt.openai.script(...SCRIPTS.list);
    const thread = await ask('which machines are down?');
    const answer = await finalAnswer(thread, 'proxmox is down');
    expect(answer.content).toContain('🔧 homelab › list_machines');
    expect(homelab.calls).toHaveLength(1);
  });

  it('should run a confirm tool once the asker clicks Approve, and take the buttons away', async () => {
    const homelab = await withHomelab(rt);
    rt.openai.script(...SCRIPTS.reboot);
    const thread = await ask('reboot proxmox');
    const request = await approvalPost(thread);
    expect(request.content).toContain('homelab › reboot_machine');
    expect(request.content).toContain('"name": "proxmox"');
    expect(customIds(request)).toEqual(['tl:approve', 'tl:deny']);
    expect(JSON.stringify(request.components)).toMatch(/"style":3.*"style":4/);

    discord.interaction({ type: 'button', messageId: request.id, customId: 'tl:approve' });
    await finalAnswer(thread, 'Done with proxmox.');
    expect(homelab.calls).toEqual([{ tool: 'reboot_machine', args: { name: 'proxmox' }, user: expect.any(String) }]);
    const decided = discord.messagesIn(thread).find((m) => m.id === request.id)!;
    expect(decided.content).toContain('✅ Approved by alice');
    expect(decided.components).toEqual([]);
    // the click was acknowledged (deferred update) before anything else
    expect(discord.interactionResponses.find((r) => r.kind === 'callback')).toMatchObject({ type: 6 });
  });

  it('should tell another user, privately, that only the asker may answer, and not run the tool', async () => {
    const homelab = await withHomelab(rt, { approvalTimeoutMs: 3_000 });
    rt.openai.script(...SCRIPTS.reboot);
    const thread = await ask('reboot proxmox');
    const request = await approvalPost(thread);

    discord.interaction({ type: 'button', messageId: request.id, customId: 'tl:approve', userId: BOB });
    const told = await until(() => discord.interactionResponses.find((r) => r.kind === 'followup' && JSON.stringify(r.data).includes('Only alice (who asked)')));
    expect(told.flags! & 64).toBe(64);
    expect(discord.messagesIn(thread).filter((m) => !m.ephemeral).some((m) => m.content.includes('Only alice (who asked)'))).toBe(false);
    expect(homelab.calls).toHaveLength(0);
    // still open for alice: nobody answers, so it ends denied
    await until(() => discord.messagesIn(thread).find((m) => m.id === request.id && m.content.includes('denied')), 10_000);
    expect(homelab.calls).toHaveLength(0);
  });

  it('should let the server owner (an admin) approve for the asker', async () => {
    const homelab = await withHomelab(rt);
    rt.openai.script(...SCRIPTS.reboot);
    const thread = await ask('reboot proxmox');
    const request = await approvalPost(thread);
    discord.interaction({ type: 'button', messageId: request.id, customId: 'tl:approve', userId: OWNER });
    await finalAnswer(thread, 'Done with proxmox.');
    expect(homelab.calls).toHaveLength(1);
    expect(discord.messagesIn(thread).find((m) => m.id === request.id)!.content).toContain('✅ Approved by owner');
  });

  it('should deny a confirm tool nobody answers in time', async () => {
    const homelab = await withHomelab(rt, { approvalTimeoutMs: 1_000 });
    rt.openai.script(...SCRIPTS.reboot);
    const thread = await ask('reboot proxmox');
    const request = await approvalPost(thread);
    await finalAnswer(thread, 'Done with proxmox.');
    const decided = discord.messagesIn(thread).find((m) => m.id === request.id)!;
    expect(decided.content).toContain('No answer within 1 s: denied');
    expect(decided.components).toEqual([]);
    expect(homelab.calls).toHaveLength(0);
    expect((await toolResults(rt))[0]!.content).toContain('nobody approved it in time');
  });

  it('should stop a running tool from the Stop button', async () => {
    const homelab = await withHomelab(rt);
    rt.openai.script(...SCRIPTS.hang);
    const thread = await ask('hang please');
    const running = await until(() => discord.messagesIn(thread).find((m) => m.content.includes('🔧 homelab › hang …') && customIds(m).includes('tl:stop')));
    expect(homelab.hanging).not.toBeNull();
    discord.interaction({ type: 'button', messageId: running.id, customId: 'tl:stop' });
    await homelab.hanging!.aborted;
    expect((await storedToolResults(rt))[0]!.meta.status).toBe('stopped');
    await until(() => !discord.messagesIn(thread).some((m) => m.content.includes('🔧 homelab › hang …')));
    expect(answerRequests(rt)).toHaveLength(1);
  });
});
