import { afterEach, describe, expect, it } from 'vitest';
import { SLACK_MESSAGE_LIMIT } from '../../src/bots/slack/reply.js';
import { answerRequests, until } from '../support/wait.js';
import { startSlackWorld, type SlackWorld } from '../support/slack.js';

let world: SlackWorld | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

const hasButton = (m: { blocks?: unknown[] }, action: string) => JSON.stringify(m.blocks ?? []).includes(`"tl_${action}"`);

describe.each(['socket', 'http'] as const)('Slack adapter over %s', (transport) => {
  it('should answer a mention in its thread, continue without a mention, and answer a retried event once', async () => {
    world = await startSlackWorld(transport);
    const { slack } = world;
    const root = slack.userSays({ text: `<@${slack.botUserId}> why is **DNS** always the problem?`, mentionsBot: true });
    const answer = await until(() => slack.messages(slack.channelId, root).find((m) => m.user === slack.botUserId && hasButton(m, 'regen')));
    expect(answer.thread_ts).toBe(root);
    expect(answer.text).toBe('Echo: why is *DNS* always the problem?');

    const followUp = slack.userSays({ text: 'it was the TTL', threadTs: root });
    await until(() => slack.messages(slack.channelId, root).find((m) => m.text === 'Echo: it was the TTL'));
    const eventId = slack.eventIds.at(-1)!;
    await slack.redeliver(eventId, 3);
    await slack.idle();
    await new Promise((r) => setTimeout(r, 200));
    expect(slack.messages(slack.channelId, root).filter((m) => m.text === 'Echo: it was the TTL')).toHaveLength(1);
    expect(followUp).toBeTruthy();
    const sent = answerRequests(world.rt).at(-1)!.body.messages.slice(1).map((m: { content: string }) => m.content);
    expect(sent).toEqual(['why is **DNS** always the problem?', 'Echo: why is **DNS** always the problem?', 'it was the TTL']);
  });

  it('should regenerate from the button and answer /tl settings privately', async () => {
    world = await startSlackWorld(transport);
    const { slack, rt } = world;
    rt.openai.script({ answer: 'first' }, { answer: 'Title' }, { answer: 'second' });
    const root = slack.userSays({ text: `<@${slack.botUserId}> pick a distro`, mentionsBot: true });
    const first = await until(() => slack.messages(slack.channelId, root).find((m) => m.text === 'first' && hasButton(m, 'regen')));
    await slack.clickButton({ messageTs: first.ts, actionId: 'tl_regen' });
    const second = await until(() => slack.messages(slack.channelId, root).find((m) => m.text === 'second' && hasButton(m, 'regen')));
    expect(JSON.stringify(second.blocks)).toContain('2/2');
    await slack.clickButton({ messageTs: second.ts, actionId: 'tl_prev' });
    const switched = await until(() => slack.messages(slack.channelId, root).find((m) => m.ts === second.ts && m.text.startsWith('first')));
    expect(switched.text).toContain('branch 1/2');

    await slack.slashCommand({ text: 'help' });
    const help = await until(() => slack.ephemeral(slack.channelId).find((m) => m.text.includes('Threadloom commands')));
    expect(help.user).toBe(slack.userId);
  });
});

describe('Slack access', () => {
  it('should ignore people and DMs outside the allowlists', async () => {
    world = await startSlackWorld('socket', (c) => ({ ...c, slack: { ...c.slack, allow: { channels: [], users: ['U0SOMEONE1'] }, allowDMs: false } }));
    const { slack } = world;
    slack.userSays({ text: `<@${slack.botUserId}> let me in`, mentionsBot: true });
    slack.userSays({ channel: 'D0ALICEDM01', channelType: 'im', text: 'and here?' });
    await slack.idle();
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(0);
    expect(world.rt.openai.chatRequests()).toHaveLength(0);
  });
});

describe('Slack adapter over HTTP', () => {
  it('should refuse a bad signature and a stale timestamp', async () => {
    world = await startSlackWorld('http');
    const { slack } = world;
    const body = { type: 'event_callback', event_id: 'Ev-forged', event: { type: 'app_mention', text: 'hi', channel: slack.channelId, user: slack.userId, ts: '1.000001' } };
    expect(await slack.signedPost('/slack/events', body, { badSignature: true })).toBe(401);
    expect(await slack.signedPost('/slack/events', body, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 })).toBeGreaterThanOrEqual(400);
    expect(world.rt.openai.chatRequests()).toHaveLength(0);
  });
});

describe.each(['socket', 'http'] as const)('Slack answers over %s', (transport) => {
  it('should split a 10,000-character answer with code under the block limit, updating at most about once a second', async () => {
    world = await startSlackWorld(transport);
    const { slack, rt } = world;
    const code = Array.from({ length: 70 }, (_, i) => `zfs list -o name,used,avail pool/dataset-${i}`).join('\n');
    const prose = 'Check **each** dataset and note the ones over quota. '.repeat(40);
    const answer = `${prose}\n\n\`\`\`\n${code}\n\`\`\`\n\n${prose}\n\n\`\`\`\n${code}\n\`\`\`\n\nDone.`;
    expect(answer.length).toBeGreaterThan(10_000);
    rt.openai.script({ answer, chunkSize: 200, delayMs: 120 }); // ~6 s of streaming
    const root = slack.userSays({ text: `<@${slack.botUserId}> audit my pool`, mentionsBot: true });
    await until(() => slack.messages(slack.channelId, root).some((m) => m.text.endsWith('Done.')), 40_000);
    const parts = slack.messages(slack.channelId, root).filter((m) => m.user === slack.botUserId);
    expect(parts.length).toBeGreaterThanOrEqual(4);
    for (const part of parts) {
      expect(part.text.length).toBeLessThanOrEqual(3_000);
      expect(part.text).not.toContain('**');
      expect((part.text.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
    expect(slack.rateLimited).toBe(0);
    const updates = Object.values(slack.updatesPerMessage());
    expect(updates.reduce((a, b) => a + b, 0)).toBeGreaterThan(0); // it did stream
    // at most one update per 1.1 s per message, plus the last when it is full or done: counted
    // against how long each message was updated, since a loaded machine streams slower
    const updateTimes = new Map<string, number[]>();
    for (const call of slack.callsTo('chat.update')) {
      const key = String(call.args.ts);
      updateTimes.set(key, [...(updateTimes.get(key) ?? []), call.at]);
    }
    for (const times of updateTimes.values()) expect(times.length).toBeLessThanOrEqual(Math.floor((times.at(-1)! - times[0]!) / 1_000) + 2);
    expect(SLACK_MESSAGE_LIMIT).toBeLessThan(3_000);
  }, 45_000);

  it('should fetch an image with the bot token for a vision model', async () => {
    world = await startSlackWorld(transport);
    const { slack, rt } = world;
    await rt.deps.experiences.update('general', { model: 'ollama/llava' });
    const root = slack.userSays({ text: `<@${slack.botUserId}> what is this?`, mentionsBot: true, files: [{ name: 'rack.png', content: 'PNGDATA', mimetype: 'image/png' }] });
    await until(() => slack.messages(slack.channelId, root).find((m) => m.user === slack.botUserId && hasButton(m, 'regen')));
    expect(slack.fileFetches.length).toBeGreaterThan(0);
    const chat = rt.ollama.chatRequests().find((r) => !JSON.stringify(r.body).includes('Write a title'))!;
    expect(chat.body.messages.at(-1).images).toEqual([Buffer.from('PNGDATA').toString('base64')]);
  });

  it('should offer the Experience starter prompts in the assistant panel', async () => {
    world = await startSlackWorld(transport);
    const { slack } = world;
    slack.assistantThreadStarted({ channel: 'D0THREADLOOM', threadTs: '1732270000.000900' });
    const prompts = await until(() => slack.assistantCalls.find((c) => c.method === 'setSuggestedPrompts'));
    expect(JSON.stringify(prompts.prompts)).toContain('message');
  });

  it('should answer an edited message on a new branch and tell a failure in one line', async () => {
    world = await startSlackWorld(transport);
    const { slack, rt } = world;
    const root = slack.userSays({ text: `<@${slack.botUserId}> start`, mentionsBot: true });
    await until(() => slack.messages(slack.channelId, root).find((m) => m.text === 'Echo: start' && hasButton(m, 'regen')));
    const question = slack.userSays({ text: 'restart nginx', threadTs: root });
    await until(() => slack.messages(slack.channelId, root).find((m) => m.text === 'Echo: restart nginx' && hasButton(m, 'regen')));
    slack.userEdits(slack.channelId, question, 'reload nginx');
    const branched = await until(() => slack.messages(slack.channelId, root).find((m) => m.text.startsWith('Echo: reload nginx') && hasButton(m, 'regen')));
    expect(branched.text).toContain('This answers your edited message (branch 2/2)');

    rt.openai.script({ answer: 'half of the answer', chunkSize: 5, cutAfterChunks: 2 });
    slack.userSays({ text: 'and then?', threadTs: root });
    const cut = await until(() => slack.messages(slack.channelId, root).find((m) => m.text.includes('The answer was cut off')));
    expect(cut.text).toMatch(/^half of th\s+⚠ The answer was cut off \(.+\); what arrived is kept\.$/);
  });

  it('should run the /tl subcommands', async () => {
    world = await startSlackWorld(transport);
    const { slack } = world;
    const dm = 'D0ALICEDM01';
    slack.userSays({ channel: dm, channelType: 'im', text: 'hello from a DM' });
    await until(() => slack.messages(dm).find((m) => m.text === 'Echo: hello from a DM'));
    const answers: Record<string, string> = {};
    for (const text of ['model', 'models', 'persona', 'experience list', 'usage', 'branch list', 'summary', 'export json', 'stop', 'bind homelab', 'regen', 'new', 'nonsense']) {
      const before = slack.ephemeral(dm).length + slack.messages(dm).length;
      await slack.slashCommand({ text, channel: dm });
      await until(() => slack.ephemeral(dm).length + slack.messages(dm).length > before);
      const seen = [...slack.ephemeral(dm).map((m) => ({ text: m.text, ts: m.message_ts })), ...slack.messages(dm).map((m) => ({ text: m.text, ts: m.ts }))];
      answers[text] = seen.sort((a, b) => Number(b.ts) - Number(a.ts))[0]!.text;
    }
    expect(answers.model).toBe('Model: openai/gpt-4o-mini (from default).');
    expect(answers.usage).toMatch(/^Today \(UTC\): 1 turns/);
    expect(answers['bind homelab']).toBe('Only Threadloom admins can use `bind`.');
    expect(answers.new).toBe('Fresh start: your next message begins a new conversation.');
    // this app may not upload files: the start of the export comes inline
    expect(answers['export json']).toContain('conversation-1.json (uploading files is not allowed for this app');
    expect(answers['export json']).toContain('"hello from a DM"');
    expect(answers.nonsense).toMatch(/^Unknown command "nonsense"/);
  });

  it('should show a status while thinking and title the assistant thread', async () => {
    world = await startSlackWorld(transport);
    const { slack, rt } = world;
    rt.openai.script({ answer: 'Use Restic.', delayMs: 20 }, { answer: 'Backup Tools For A Homelab' });
    const dm = 'D0ASSIST001';
    const threadTs = '1732270000.000900';
    slack.assistantThreadStarted({ channel: dm, threadTs });
    await until(() => slack.assistantCalls.find((c) => c.method === 'setSuggestedPrompts'));
    slack.userSays({ channel: dm, channelType: 'im', threadTs, text: 'what should I back up with?' });
    await until(() => slack.messages(dm, threadTs).find((m) => m.text === 'Use Restic.'));
    const title = await until(() => slack.assistantCalls.find((c) => c.method === 'setTitle'));
    expect(title.title).toBe('Backup Tools For A Homelab');
    expect(slack.assistantCalls.some((c) => c.method === 'setStatus' && c.status === 'is thinking…')).toBe(true);
  });
});

describe('Slack search', () => {
  it('answers /tl search privately, with a permalink to the message', async () => {
    world = await startSlackWorld('socket');
    const { slack, rt } = world;
    rt.openai.script({ answer: 'Debian stable, for a quiet life.' }, { answer: 'Distro choice' });
    const root = slack.userSays({ text: `<@${slack.botUserId}> pick a distro for the NAS`, mentionsBot: true });
    await until(() => slack.messages(slack.channelId, root).find((m) => m.text.startsWith('Debian stable')));
    await slack.slashCommand({ text: 'search all distro for the nas' });
    const found = await until(() => slack.ephemeral(slack.channelId).find((m) => m.text.includes('pick a distro')));
    expect(found.user).toBe(slack.userId);
    expect(found.text).toMatch(/https:\/\/[a-z0-9-]+\.slack\.com\/archives\/C[A-Z0-9]+\/p\d+/);
    expect(slack.messages(slack.channelId).some((m) => m.text.includes('pick a distro') && m.ts !== root)).toBe(false);
  });
});
