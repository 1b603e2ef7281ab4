/**
 * The fake OpenAI server in its own process, so the benchmark measures Threadloom's event loop
 * and memory, not the fake's. Prints its URL on the first line of stdout; exits when stdin closes.
 */
import { startFakeOpenAI } from '../test/fakes/providers.js';

const ANSWER_TOKENS = Number(process.env.ANSWER_TOKENS ?? 200);
const DELAY_MS = Number(process.env.CHUNK_DELAY_MS ?? 0);
// one chunk per token, as real servers stream; "tok " is one token in GPT tokenizers
const answer = 'tok '.repeat(ANSWER_TOKENS);
// like a real server, stop at the request's token limit: title calls ask for a few tokens
const answerFor = (request: { body: { max_tokens?: number; max_completion_tokens?: number } }): string => {
  const limit = request.body.max_completion_tokens ?? request.body.max_tokens ?? Infinity;
  return limit < ANSWER_TOKENS ? 'Counting to two hundred' : answer;
};
const fake = await startFakeOpenAI({ models: ['*'], defaultAnswer: answerFor, chunkSize: 4 });
if (DELAY_MS > 0) {
  // pace the streams of one load run: every conversation's answer and its title call
  fake.script(...Array.from({ length: 1000 }, () => ({ delayMs: DELAY_MS })));
}
process.stdout.write(`${fake.url}\n`);
process.stdin.resume();
process.stdin.on('end', () => void fake.close().then(() => process.exit(0)));
