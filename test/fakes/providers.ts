/**
 * Fake model servers speaking the real wire formats, for tests and benchmarks. Each listens on
 * 127.0.0.1 at a free port and resolves to a `FakeProviderServer`:
 *
 * ```ts
 * const fake = await startFakeOpenAI();              // or startFakeAnthropic / startFakeOllama
 * const provider = createOpenAIProvider({ name: 'oa', baseURL: fake.url });
 * fake.script({ status: 429, retryAfter: 2 }, { answer: 'hello', delayMs: 5 });
 * // ...first chat request gets the 429, the second streams "hello"; later ones the default answer
 * expect(fake.lastChatBody().messages).toHaveLength(2);
 * await fake.close();
 * ```
 *
 * Without a script, chat requests stream `Echo: <last user message text>` (or `defaultAnswer`)
 * in 4-character chunks with usage figures. A request for a model not in `models` gets the API's
 * own 404 error, before any scripted behaviour is consumed. See `FakeBehaviour` for the failures
 * a script can ask for (status errors, 429 with retry-after, stalls, cuts, malformed frames).
 */
export {
  fakeEmbedding,
  splitChunks,
  type FakeBehaviour,
  type FakeProviderServer,
  type FakeRoute,
  type FakeServerOptions,
  type FakeUsage,
  type RecordedRequest,
} from './providers/core.js';
export { FAKE_OPENAI_MODELS, startFakeOpenAI, type FakeOpenAIOptions } from './providers/openai.js';
export { FAKE_ANTHROPIC_MODELS, startFakeAnthropic } from './providers/anthropic.js';
export {
  FAKE_OLLAMA_LIBRARY,
  FAKE_OLLAMA_MODELS,
  startFakeOllama,
  type FakeLoadedModel,
  type FakeOllamaModelInfo,
  type FakeOllamaOptions,
  type FakeOllamaServer,
} from './providers/ollama.js';
