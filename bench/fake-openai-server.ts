/**
 * The fake OpenAI server in its own process, so the benchmark measures Threadloom's event loop
 * and memory, not the fake's. Prints its URL on the first line of stdout; exits when stdin closes.
 */
import { startFakeOpenAI } from '../test/fakes/providers.js';

const ANSWER_TOKENS = Number(process.env.ANSWER_TOKENS ?? 200);
const DELAY_MS = Number(process.env.CHUNK_DELAY_MS ?? 0);
// one chunk per token, as real servers stream; "tok " is one token in GPT tokenizers
const answer = 'tok '.repeat(ANSWER_TOKENS);
const fake = await startFakeOpenAI({ models: ['*'], defaultAnswer: answer, chunkSize: 4 });
if (DELAY_MS > 0) {
  // pace the streams of one load run: every conversation's answer and its title call
  fake.script(...Array.from({ length: 1000 }, () => ({ answer, delayMs: DELAY_MS, usage: { input: 50, output: ANSWER_TOKENS } })));
}
process.stdout.write(`${fake.url}\n`);
process.stdin.resume();
process.stdin.on('end', () => void fake.close().then(() => process.exit(0)));
