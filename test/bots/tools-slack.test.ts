import { afterEach, describe, expect, it } from 'vitest';
import type { StoredMessage } from '../fakes/slack/index.js';
import { startSlackWorld, type SlackWorld } from '../support/slack.js';
import { SCRIPTS, storedToolResults, withHomelab } from '../support/tools.js';
import { answerRequests, until } from '../support/wait.js';

const BOB = 'U0BOB00001';

let world: SlackWorld;
afterEach(async () => {
  await world.close();
});

const actionIds = (m: StoredMessage): string[] => JSON.stringify(m.blocks ?? []).match(/"action_id":"tl_[a-z]+"/g)?.map((a) => a.slice(13, -1)) ?? [];

/** alice mentions the bot in the channel; resolves to the thread (the mention's ts) */
function ask(question: string): string {
  const { slack } = world;
  return slack.userSays({ text: `<@${slack.botUserId}> ${question}`, mentionsBot: true });
}

const inThread = (root: string) => world.slack.messages(world.slack.channelId, root).filter((m) => m.user === world.slack.botUserId);
const approvalPost = (root: string) => until(() => inThread(root).find((m) => m.text.includes('wants to run') && actionIds(m).length > 0));
const finalAnswer = (root: string, text: string) => until(() => inThread(root).find((m) => m.text.includes(text) && actionIds(m).includes('tl_regen')));

describe('tools on Slack', () => {
  it('should answer through a read-only tool and end the answer with the tools it used', async () => {
    world = await startSlackWorld('socket');
    const homelab = await withHomelab(world.rt);
    world.rt.openai.script(...SCRIPTS.list);
    const answer = await finalAnswer(ask('which machines are down?'), 'proxmox is down');
    expect(answer.text).toContain('🔧 homelab › list_machines');
    expect(homelab.calls).toHaveLength(1);
  });

  it('should run a confirm tool once the asker clicks Approve, and take the buttons away', async () => {
    world = await startSlackWorld('socket');
    const homelab = await withHomelab(world.rt);
    world.rt.openai.script(...SCRIPTS.reboot);
    const root = ask('reboot proxmox');
    const request = await approvalPost(root);
    expect(request.text).toContain('homelab › reboot_machine');
    expect(request.text).toContain('"name": "proxmox"');
    expect(actionIds(request)).toEqual(['tl_approve', 'tl_deny']);

    await world.slack.clickButton({ messageTs: request.ts, actionId: 'tl_approve' });
    await finalAnswer(root, 'Done with proxmox.');
    expect(homelab.calls).toEqual([{ tool: 'reboot_machine', args: { name: 'proxmox' }, user: 'U0ALICE001' }]);
    const decided = inThread(root).find((m) => m.ts === request.ts)!;
    expect(decided.text).toContain('Approved by Alice');
    expect(decided.blocks ?? []).toEqual([]);
  });

  it('should tell another user, privately, that only the asker may answer, and not run the tool', async () => {
    world = await startSlackWorld('http');
    const homelab = await withHomelab(world.rt, { approvalTimeoutMs: 3_000 });
    world.rt.openai.script(...SCRIPTS.reboot);
    const root = ask('reboot proxmox');
    const request = await approvalPost(root);

    await world.slack.clickButton({ messageTs: request.ts, actionId: 'tl_approve', user: BOB });
    const told = await until(() => world.slack.ephemeral(world.slack.channelId).find((m) => m.text.includes('Only Alice (who asked)')));
    expect(told.user).toBe(BOB);
    expect(homelab.calls).toHaveLength(0);
    await until(() => inThread(root).find((m) => m.ts === request.ts && m.text.includes('denied')), 10_000);
    expect(homelab.calls).toHaveLength(0);
  });

  it('should deny a confirm tool nobody answers in time', async () => {
    world = await startSlackWorld('socket');
    const homelab = await withHomelab(world.rt, { approvalTimeoutMs: 1_000 });
    world.rt.openai.script(...SCRIPTS.reboot);
    const root = ask('reboot proxmox');
    const request = await approvalPost(root);
    await finalAnswer(root, 'Done with proxmox.');
    const decided = inThread(root).find((m) => m.ts === request.ts)!;
    expect(decided.text).toContain('No answer within 1 s: denied');
    expect(decided.blocks ?? []).toEqual([]);
    expect(homelab.calls).toHaveLength(0);
    expect((await storedToolResults(world.rt))[0]!.content).toContain('nobody approved it in time');
  });

  it('should stop a running tool from the Stop button', async () => {
    world = await startSlackWorld('socket');
    const homelab = await withHomelab(world.rt);
    world.rt.openai.script(...SCRIPTS.hang);
    const root = ask('hang please');
    const running = await until(() => inThread(root).find((m) => m.text.includes('🔧 homelab › hang …') && actionIds(m).includes('tl_stop')));
    await world.slack.clickButton({ messageTs: running.ts, actionId: 'tl_stop' });
    await homelab.hanging!.aborted;
    expect((await storedToolResults(world.rt))[0]!.meta.status).toBe('stopped');
    await until(() => !inThread(root).some((m) => m.text.includes('🔧 homelab › hang …')));
    expect(answerRequests(world.rt)).toHaveLength(1);
  });
});
