import type { TestRuntime } from './runtime.js';

/**
 * Polls until `probe` returns something truthy, and returns it; fails after `timeoutMs`, a bound
 * for a condition that never comes, long enough that a loaded machine does not reach it otherwise.
 */
export async function until<T>(probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting (${timeoutMs} ms)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Router timeouts that no healthy fake reaches on a loaded machine, for the platform worlds whose
 * answers stream for seconds (the runtime's own 3 s / 10 s are close to what they take under load).
 */
export const PATIENT_ROUTING = { firstTokenTimeoutMs: 15_000, totalTimeoutMs: 60_000 } as const;

/** Chat requests the fake OpenAI saw for answers, leaving out title generation. */
export function answerRequests(rt: Pick<TestRuntime, 'openai'>) {
  return rt.openai.chatRequests().filter((r) => !JSON.stringify(r.body).includes('Write a title of 3 to 7 words'));
}
