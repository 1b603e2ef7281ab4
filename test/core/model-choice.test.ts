import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setModelDefaults } from '../../src/core/settings.js';
import { chooseModel } from '../../src/core/providers/model-choice.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

let rt: TestRuntime;
beforeAll(async () => {
  rt = await startTestRuntime();
});
afterAll(async () => {
  await rt.shutdown();
});

describe('chooseModel', () => {
  it('should pick conversation override, then channel binding, then Experience, then the global default', async () => {
    const { experiences, conversations, db } = rt.deps;
    const experience = await experiences.create({ name: 'Ops', slug: 'ops', fallbackModels: ['ollama/llama3.2'] });
    const conversation = await conversations.create({ platform: 'test', channelId: 'ops-room', threadId: null }, experience.id, null);
    const choose = async () => chooseModel(rt.deps, await conversations.get(conversation.id), (await experiences.get('ops'))!);

    expect(await choose()).toEqual({ modelId: 'openai/gpt-4o-mini', source: 'default', candidates: ['openai/gpt-4o-mini', 'ollama/llama3.2'] });
    await experiences.update('ops', { model: 'anthropic/claude-haiku-4-5' });
    expect(await choose()).toEqual({ modelId: 'anthropic/claude-haiku-4-5', source: 'experience', candidates: ['anthropic/claude-haiku-4-5', 'ollama/llama3.2'] });
    await db.insertInto('bindings').values({ platform: 'test', channel_id: 'ops-room', experience_id: experience.id, model_override: 'openai/gpt-4o' }).execute();
    expect(await choose()).toMatchObject({ modelId: 'openai/gpt-4o', source: 'binding', candidates: ['openai/gpt-4o', 'anthropic/claude-haiku-4-5', 'ollama/llama3.2'] });
    await conversations.update(conversation.id, { model_override: 'ollama/llava' });
    expect(await choose()).toMatchObject({ modelId: 'ollama/llava', source: 'conversation', candidates: ['ollama/llava', 'openai/gpt-4o', 'ollama/llama3.2'] });
  });

  it('should use the global default and fallbacks set in the admin web over the config file', async () => {
    const { experiences, conversations, db } = rt.deps;
    const experience = await experiences.create({ name: 'Lab', slug: 'lab', fallbackModels: ['ollama/llama3.2'] });
    const conversation = await conversations.create({ platform: 'test', channelId: 'lab-room', threadId: null }, experience.id, null);
    await setModelDefaults(db, { defaultModel: 'anthropic/claude-haiku-4-5', fallbacks: ['openai/gpt-4o'] });
    try {
      expect(await chooseModel(rt.deps, await conversations.get(conversation.id), experience)).toEqual({
        modelId: 'anthropic/claude-haiku-4-5',
        source: 'default',
        candidates: ['anthropic/claude-haiku-4-5', 'ollama/llama3.2', 'openai/gpt-4o'],
      });
    } finally {
      await db.deleteFrom('settings').where('key', 'like', 'models.%').execute();
    }
  });
});
