import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/core/config.js';
import { RecordingReply, inbound } from '../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { answerRequests } from '../support/wait.js';

let rt: TestRuntime;
afterEach(async () => {
  await rt.shutdown();
});

/** The default model on the fake Ollama (which reports a 131,072-token window), its server configured with a keep_alive. */
function onOllama(c: Config, defaultContextLength = 4096): Config {
  const ollama = c.providers.ollama;
  if (ollama?.kind !== 'ollama') throw new Error('the test runtime configures an ollama provider');
  return {
    ...c,
    defaultModel: 'ollama/llama3.2',
    context: { ...c.context, defaultContextLength },
    providers: { ...c.providers, ollama: { ...ollama, keepAlive: '10m' } },
  };
}

const isTitle = (body: unknown): boolean => JSON.stringify(body).includes('Write a title of 3 to 7 words');

describe('prompt window', () => {
  describe('on Ollama', () => {
    it('should size every turn to one num_ctx (the smaller of the model and the configured window) and send the keep_alive', async () => {
      rt = await startTestRuntime({ config: (c) => onOllama(c) });
      await rt.engine.handle(inbound('hello'), new RecordingReply());
      const turn = rt.ollama.chatRequests().find((r) => !isTitle(r.body))!.body;
      expect(turn.options.num_ctx).toBe(4096);
      expect(turn.keep_alive).toBe('10m');
    });

    it("should keep to a model's own window when it is smaller", async () => {
      rt = await startTestRuntime({ config: (c) => onOllama(c, 262_144) });
      await rt.engine.handle(inbound('hello'), new RecordingReply());
      expect(rt.ollama.chatRequests().find((r) => !isTitle(r.body))!.body.options.num_ctx).toBe(131_072);
    });
  });

  it('should ask a provider without such rules for no num_ctx or keep_alive', async () => {
    rt = await startTestRuntime();
    await rt.engine.handle(inbound('hello'), new RecordingReply());
    const body = answerRequests(rt)[0]!.body;
    expect(body).not.toHaveProperty('num_ctx');
    expect(body).not.toHaveProperty('keep_alive');
    expect(body).not.toHaveProperty('options');
  });

  it('should leave older messages out without summarising when the Experience says so, and say so once', async () => {
    rt = await startTestRuntime();
    await rt.deps.experiences.update('general', { contextPolicy: { maxMessages: 2, tokenBudget: null, summarize: false } });
    const reply = new RecordingReply();
    await rt.engine.handle(inbound('question 0'), reply);
    expect(reply.last().text).toBe('Echo: question 0');

    await rt.engine.handle(inbound('question 1'), reply);
    expect(reply.last().text).toBe('Echo: question 1\n\nℹ Only the last 2 messages are used; older ones are left out.');
    const sent = answerRequests(rt).at(-1)!.body.messages.slice(1).map((m: { content: string }) => m.content);
    expect(sent).toEqual(['Echo: question 0', 'question 1']);

    await rt.engine.handle(inbound('question 2'), reply);
    expect(reply.last().text).toBe('Echo: question 2');
    expect(rt.openai.chatRequests().filter((r) => JSON.stringify(r.body).includes('running summary'))).toHaveLength(0);
  });
});
