import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContext, type ContextRequest } from '../../src/core/context/builder.js';
import { promptVariables } from '../../src/core/context/prompt.js';
import { estimateTokens } from '../../src/core/context/tokens.js';
import type { Experience } from '../../src/core/experiences/service.js';
import { TestContext } from '../support/db.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await TestContext.create();
});
afterAll(async () => {
  await ctx.close();
});

function request(experience: Experience, leafId: number | null, overrides: Partial<ContextRequest> = {}): ContextRequest {
  return {
    experience,
    personaOverride: null,
    variables: promptVariables(new Date('2026-11-22T09:30:00Z'), 'Ada', 'ollama/llama3.2', experience.name),
    leafId,
    model: { contextLength: 8192, vision: false },
    reservedAnswerTokens: 1024,
    ...overrides,
  };
}

async function conversationWith(experience: Experience, turns: number) {
  const c = await ctx.newConversation(experience);
  let leaf = 0;
  for (let i = 0; i < turns; i++) {
    await ctx.say(c.id, `question ${i}`);
    leaf = (await ctx.answer(c.id, `answer ${i}`)).id;
  }
  return { conversation: c, leaf };
}

describe('buildContext', () => {
  it('should render the system prompt with persona, rules and variables', async () => {
    const experience = await ctx.newExperience({
      personaName: 'Rack',
      systemPrompt: 'You help {user} run a homelab. Today is {date}.',
      rules: { language: 'German', maxAnswerChars: 500, refuse: ['crypto mining'] },
    });
    const built = await buildContext(ctx.db, request(experience, null));
    const system = built.messages[0]!;
    expect(system.role).toBe('system');
    expect(system.content).toContain('You are Rack');
    expect(system.content).toContain('You help Ada run a homelab. Today is 2026-11-22.');
    expect(system.content).toContain('Always answer in German.');
    expect(system.content).toContain('under 500 characters');
    expect(system.content).toContain('crypto mining');
  });

  it('should keep the newest messages within the message count', async () => {
    const experience = await ctx.newExperience({ contextPolicy: { maxMessages: 5 } });
    const { leaf } = await conversationWith(experience, 10);
    const built = await buildContext(ctx.db, request(experience, leaf));
    expect(built.messages.slice(1).map((m) => m.content)).toEqual(['answer 7', 'question 8', 'answer 8', 'question 9', 'answer 9']);
    expect(built.droppedCount).toBeGreaterThan(0);
  });

  it('should keep within the token budget and never drop the system prompt or the newest message', async () => {
    const experience = await ctx.newExperience({ systemPrompt: 'x'.repeat(4000), contextPolicy: { maxMessages: 50, tokenBudget: 1200 } });
    const c = await ctx.newConversation(experience);
    for (let i = 0; i < 6; i++) await ctx.say(c.id, `${i} ${'word '.repeat(120)}`);
    const leaf = (await ctx.say(c.id, 'the question that matters')).id;
    const built = await buildContext(ctx.db, request(experience, leaf));
    expect(built.messages[0]!.content).toContain('x'.repeat(4000));
    expect(built.messages.at(-1)!.content).toBe('the question that matters');
    expect(built.estimatedTokens).toBeLessThanOrEqual(1200);
    expect(built.messages.length).toBeLessThan(8);

    const tiny = await buildContext(ctx.db, request(experience, leaf, { model: { contextLength: 600, vision: false }, reservedAnswerTokens: 300 }));
    expect(tiny.messages.map((m) => m.role)).toEqual(['system', 'user']);
  });

  it('should start from the latest summary checkpoint on the branch', async () => {
    const experience = await ctx.newExperience({ contextPolicy: { maxMessages: 6 } });
    const { conversation, leaf } = await conversationWith(experience, 5);
    const path = await ctx.conversations.path(await ctx.conversations.get(conversation.id));
    await ctx.db.insertInto('summaries').values({ conversation_id: conversation.id, message_id: path[5]!.id, content: 'They talked about ZFS.', token_count: 10, model: null }).execute();
    const built = await buildContext(ctx.db, request(experience, leaf));
    expect(built.messages[1]).toEqual({ role: 'system', content: 'Summary of the earlier part of this conversation:\nThey talked about ZFS.' });
    expect(built.messages.slice(2).map((m) => m.content)).toEqual(['question 3', 'answer 3', 'question 4', 'answer 4']);
    expect(built.droppedCount).toBe(0);

    // a branch that forks above the checkpoint does not see it
    const other = await ctx.answer(conversation.id, 'another answer 0', path[0]!.id);
    const onOther = await buildContext(ctx.db, request(experience, other.id));
    expect(onOther.summary).toBeNull();
  });

  it('should send images to models that accept them, and say so to those that do not', async () => {
    const experience = await ctx.newExperience();
    const c = await ctx.newConversation(experience);
    const msg = await ctx.conversations.append(c.id, {
      role: 'user',
      content: 'what is this?',
      attachments: [{ name: 'switch.jpg', mimeType: 'image/jpeg', data: 'AAAA', url: null, size: 3 }],
    });
    const vision = await buildContext(ctx.db, request(experience, msg.id, { model: { contextLength: 8192, vision: true } }));
    expect(vision.messages.at(-1)).toEqual({ role: 'user', content: 'what is this?', images: [{ mimeType: 'image/jpeg', data: 'AAAA' }] });
    const blind = await buildContext(ctx.db, request(experience, msg.id));
    expect(blind.messages.at(-1)!.content).toBe('what is this?\n[image "switch.jpg" attached; this model cannot see images]');
    expect(blind.messages.at(-1)!.images).toBeUndefined();
  });
});

describe('estimateTokens', () => {
  it('should count ASCII by four characters and other characters one each', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcdefgh')).toBe(2);
    expect(estimateTokens('日本語')).toBe(3);
    expect(estimateTokens('👍')).toBe(1);
  });
});
