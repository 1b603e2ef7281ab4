import type { TestRuntime } from './runtime.js';

/**
 * Polls until `probe` returns something truthy, and returns it; fails after `timeoutMs`, a bound
 * for a condition that never comes, long enough that a loaded machine does not reach it otherwise.
 */
export async function until<T>(probe: () => T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting (${timeoutMs} ms)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Chat requests the fake OpenAI saw for answers, leaving out title generation. */
export function answerRequests(rt: Pick<TestRuntime, 'openai'>) {
  return rt.openai.chatRequests().filter((r) => !JSON.stringify(r.body).includes('Write a title of 3 to 7 words'));
}
