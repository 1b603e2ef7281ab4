import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiscordAdapter } from '../../src/bots/discord/index.js';
import type { FakeDiscord } from '../fakes/discord/index.js';
import { GENERAL, answerRequests, startDiscordWorld, until, type DiscordWorld } from '../support/discord.js';
import { startAdapter, stopAdapter } from '../../src/core/runtime.js';
import { adapterContext, type TestRuntime } from '../support/runtime.js';

let world: DiscordWorld;
let discord: FakeDiscord;
let rt: TestRuntime;

beforeEach(async () => {
  world = await startDiscordWorld((c) => ({ ...c, limits: { userTurnsPerMinute: 1000 } }));
  ({ discord, rt } = world);
});

afterEach(async () => {
  await world.close();
});

const mention = (text: string) => ({ channelId: GENERAL, content: `<@${discord.botUserId}> ${text}`, mentionsBot: true });
const finished = (threadId: string, content: string) => () =>
  discord.messagesIn(threadId).find((m) => m.content.startsWith(content) && JSON.stringify(m.components).includes('tl:regen'));

describe('Discord conversations', () => {
  it('should rename the thread to the generated title', async () => {
    rt.openai.script({ answer: 'Check the SMART data first.' }, { answer: 'Failing Disk In The NAS' });
    discord.userSays(mention('one of my NAS disks clicks, what now?'));
    const renamed = await until(() => discord.threads[0] && discord.threads[0].names.length > 1 && discord.threads[0]);
    expect(renamed.names).toEqual(['one of my NAS disks clicks, what now?', 'Failing Disk In The NAS']);
    expect(renamed.name).toBe('Failing Disk In The NAS');
  });

  it('should stop an answer from its Stop button and keep what arrived', async () => {
    rt.openai.script({ answer: 'one two three four five six seven', chunkSize: 4, stallAfterChunks: 2 });
    discord.userSays(mention('count slowly'));
    const thread = await until(() => discord.threads[0]);
    const live = await until(() => discord.messagesIn(thread.id).find((m) => JSON.stringify(m.components).includes('tl:stop')));
    discord.interaction({ type: 'button', messageId: live.id, customId: 'tl:stop' });
    const stopped = await until(() => discord.messagesIn(thread.id).find((m) => m.content.includes('⏹ Stopped.')));
    expect(stopped.content.startsWith('one two')).toBe(true);
    expect(JSON.stringify(stopped.components)).not.toContain('tl:stop');
  });

  it('should answer an edited message on a new branch and say so in the thread', async () => {
    discord.userSays(mention('start'));
    const thread = await until(() => discord.threads[0]);
    await until(finished(thread.id, 'Echo: start'));
    const question = discord.userSays({ channelId: thread.id, content: 'restart nginx' });
    await until(finished(thread.id, 'Echo: restart nginx'));
    discord.userEdits(question, 'reload nginx');
    const branched = await until(finished(thread.id, 'Echo: reload nginx'));
    expect(branched.content).toContain('✎ This answers your edited message (branch 2/2)');
    expect(JSON.stringify(branched.components)).toContain('▶ 2/2');
    const older = discord.messagesIn(thread.id).find((m) => m.content.startsWith('Echo: restart nginx'))!;
    discord.interaction({ type: 'button', messageId: branched.id, customId: 'tl:prev' });
    await until(() => discord.messagesIn(thread.id).find((m) => m.id === branched.id && m.content.includes('branch 1/2')));
    expect(older.content).toBe('Echo: restart nginx');
  });

  it('should read a text file into the message and explain what it cannot read', async () => {
    discord.userSays({
      ...mention('what is wrong with this config?'),
      attachments: [
        { filename: 'nginx.conf', content: 'server { listen 80; }', contentType: 'text/plain' },
        { filename: 'backup.tar.gz', content: 'xx', contentType: 'application/gzip' },
      ],
    });
    const thread = await until(() => discord.threads[0]);
    await until(finished(thread.id, 'Echo:'));
    const sent = answerRequests(rt)[0]!.body.messages.at(-1).content as string;
    expect(sent).toContain('[file "nginx.conf"]\n```\nserver { listen 80; }\n```');
    expect(sent).toContain('[attachment "backup.tar.gz" (application/gzip, 1 KB) was not read: only images, text, PDF and Word files are]');
  });

  it('should not branch when an edit changes nothing a user wrote', async () => {
    const first = discord.userSays({ ...mention('see the attached config'), attachments: [{ filename: 'app.yaml', content: 'replicas: 3', contentType: 'text/yaml' }] });
    const thread = await until(() => discord.threads[0]);
    await until(finished(thread.id, 'Echo: see the attached config'));
    discord.userEdits(first, `<@${discord.botUserId}> see the attached config`); // e.g. a link preview arriving
    await new Promise((r) => setTimeout(r, 300));
    expect(discord.messagesIn(thread.id).filter((m) => m.content.startsWith('Echo: see the attached config'))).toHaveLength(1);
    expect(answerRequests(rt)).toHaveLength(1);
  });

  it('should send an image to a vision model', async () => {
    await rt.deps.experiences.update('general', { model: 'ollama/llava' });
    rt.ollama.models = ['llava:latest'];
    discord.userSays({ ...mention('what is in this picture?'), attachments: [{ filename: 'rack.png', content: 'PNGDATA', contentType: 'image/png', width: 10, height: 10 }] });
    const thread = await until(() => discord.threads[0]);
    await until(finished(thread.id, 'Echo:'));
    const chat = rt.ollama.chatRequests().find((r) => r.path === '/api/chat' && !JSON.stringify(r.body).includes('Write a title'))!;
    expect(chat.body.messages.at(-1).images).toEqual([Buffer.from('PNGDATA').toString('base64')]);
  });

  it('should keep one running conversation per DM', async () => {
    discord.dmSays({ content: 'remember: my NAS is called tank' });
    await until(() => discord.dmMessages().find((m) => m.content.startsWith('Echo: remember') && m.components.length));
    discord.dmSays({ content: 'what is it called?' });
    await until(() => discord.dmMessages().find((m) => m.content.startsWith('Echo: what is it called?')));
    const sent = answerRequests(rt).at(-1)!.body.messages.slice(1).map((m: { content: string }) => m.content);
    expect(sent).toEqual(['remember: my NAS is called tank', 'Echo: remember: my NAS is called tank', 'what is it called?']);
  });

  it('should not answer twice when the gateway resumes and redelivers a message', async () => {
    discord.userSays(mention('once please'));
    const thread = await until(() => discord.threads[0]);
    await until(finished(thread.id, 'Echo: once please'));
    await discord.dropConnection({ code: 4000, redeliver: 5 });
    await discord.nextSession();
    discord.userSays({ channelId: thread.id, content: 'still there?' });
    await until(finished(thread.id, 'Echo: still there?'));
    await new Promise((r) => setTimeout(r, 300));
    expect(discord.messagesIn(thread.id).filter((m) => m.content.startsWith('Echo: once please'))).toHaveLength(1);
    expect(answerRequests(rt).filter((r) => JSON.stringify(r.body.messages.at(-1)).includes('once please'))).toHaveLength(1);
  });

  it('should tell the thread in one line when the model fails mid-answer', async () => {
    rt.openai.script({ answer: 'The first half of the', chunkSize: 5, cutAfterChunks: 3 });
    discord.userSays(mention('explain RAID'));
    const thread = await until(() => discord.threads[0]);
    const cut = await until(() => discord.messagesIn(thread.id).find((m) => m.content.includes('⚠ The answer was cut off')));
    expect(cut.content).toMatch(/^The first half\s+⚠ The answer was cut off \(.+\); what arrived is kept\.$/);
  });

  it('should answer once what was said in its thread while it was down, and nothing it had answered', async () => {
    discord.userSays(mention('first question'));
    const thread = await until(() => discord.threads[0]);
    await until(finished(thread.id, 'Echo: first question'));
    discord.userSays({ channelId: thread.id, content: 'second question' });
    await until(finished(thread.id, 'Echo: second question'));

    await stopAdapter(rt.engine, world.adapter);
    discord.userSays({ channelId: thread.id, content: 'are you back?' });
    world.adapter = createDiscordAdapter(adapterContext(rt));
    await startAdapter(rt.engine, world.adapter);
    expect(await world.adapter.caughtUp()).toBeGreaterThanOrEqual(2);
    await until(finished(thread.id, 'Echo: are you back?'));
    const answers = discord.messagesIn(thread.id).map((m) => m.content.split('\n')[0]);
    expect(answers.filter((a) => a === 'Echo: second question')).toHaveLength(1);
    expect(answers.filter((a) => a === 'Echo: are you back?')).toHaveLength(1);
  });

  it('should answer a flood of 50 messages in one thread in order, without a 429', async () => {
    discord.userSays(mention('flood incoming'));
    const thread = await until(() => discord.threads[0]);
    await until(finished(thread.id, 'Echo: flood incoming'));
    for (let i = 0; i < 50; i++) discord.userSays({ channelId: thread.id, content: `flood ${i}` });
    const answered = () => discord.messagesIn(thread.id).filter((m) => /^Echo: flood \d+/.test(m.content) && m.components.length);
    await until(() => answered().length >= 50, 30_000);
    // one answer also carries the note that earlier messages were summarised
    const order = discord.messagesIn(thread.id)
      .filter((m) => /^Echo: flood \d+(\n|$)/.test(m.content))
      .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))
      .map((m) => Number(/^Echo: flood (\d+)/.exec(m.content)![1]));
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(discord.rateLimited).toBe(0);
    const conversation = await rt.deps.db.selectFrom('conversations').selectAll().where('thread_id', '=', thread.id).executeTakeFirstOrThrow();
    const path = await rt.deps.conversations.path(conversation);
    expect(path.at(-1)!.content).toBe('Echo: flood 49');
  }, 40_000);
});
