/**
 * A turn on a chat platform as the person in it sees it: a DM on the fake Discord gateway, to the
 * bot's first post of the answer (REST create message) and to its final edit (the last write of
 * that message, the one with the whole answer and its buttons). Threadloom is the shipped build
 * (`node dist/src/main.js`) logged into the fake Discord, which runs in this process; the fake
 * OpenAI server runs in its own. The provider's own time is the openai SDK streaming from the
 * same fake directly, interleaved turn by turn.
 *
 * Two answers: `streamed` lasts longer than the first-post delay (posted, then edited once at its
 * end); `quick` ends at once (posted once, when complete).
 */
import OpenAI from 'openai';
import { startFakeDiscord, type FakeDiscord } from '../test/fakes/discord/index.js';
import { discordTurn, type DiscordTurn } from './discord-turn.js';
import { seedDatabase, startFakeProvider, startThreadloom, type FakeProvider, type ThreadloomProcess } from './process.js';
import { figure, spread } from './stats.js';

const TURNS = Number(process.env.CHAT_TURNS ?? 100);
const WARMUP = 10;
const ANSWER_WORDS = 50;
/** `FIRST_POST_DELAY_MS` in src/core/turns/answer-reply.ts: after the first token, before the first post */
const FIRST_POST_DELAY_MS = 400;
/** DMs rotate over this many people: each DM channel then sees an edit every few seconds, far under Discord's 5 per 5 s */
const PEOPLE = 8;

const SCENARIOS = [
  // 50 tokens, 10 ms apart: ~490 ms from the first token to the last, past the first-post delay
  { name: 'streamed', chunkDelayMs: 10 },
  { name: 'quick', chunkDelayMs: 0 },
] as const;

interface DirectSample {
  firstToken: number;
  total: number;
}

async function directTurn(client: OpenAI, question: string): Promise<DirectSample> {
  const start = performance.now();
  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: question }] });
  let firstToken = NaN;
  let text = '';
  for await (const chunk of stream) {
    const piece = chunk.choices[0]?.delta?.content ?? '';
    if (piece && Number.isNaN(firstToken)) firstToken = performance.now() - start;
    text += piece;
  }
  if (text.trim().split(' ').length !== ANSWER_WORDS) throw new Error(`unexpected direct answer: ${JSON.stringify(text)}`);
  return { firstToken, total: performance.now() - start };
}

function report(prefix: string, values: number[]): void {
  const s = spread(values);
  figure(`${prefix}_median`, s.median, 'ms', 1);
  figure(`${prefix}_p95`, s.p95, 'ms', 1);
  figure(`${prefix}_p99`, s.p99, 'ms', 1);
}

async function runScenario(scenario: (typeof SCENARIOS)[number]): Promise<void> {
  let fake: FakeProvider | null = null;
  let discord: FakeDiscord | null = null;
  let threadloom: ThreadloomProcess | null = null;
  try {
    fake = await startFakeProvider({ ANSWER_TOKENS: String(ANSWER_WORDS), CHUNK_DELAY_MS: String(scenario.chunkDelayMs) });
    discord = await startFakeDiscord();
    const fakeDiscord = discord;
    threadloom = await startThreadloom({
      config: {
        defaultModel: 'openai/gpt-4o-mini',
        providers: { openai: { kind: 'openai', baseURL: fake.url, apiKey: 'sk-bench', maxConcurrent: 64 } },
        limits: { userTurnsPerMinute: 1_000_000 },
        discord: { token: 'bench-token', apiBaseURL: fakeDiscord.apiUrl },
      },
      prepare: async (dir) => void (await seedDatabase(dir)),
    });
    const people = Array.from({ length: PEOPLE }, (_, i) => fakeDiscord.addUser({ username: `person${i}` }).id);
    const direct = new OpenAI({ apiKey: 'sk-bench', baseURL: fake.url, maxRetries: 0 });
    const directSamples: DirectSample[] = [];
    const chatSamples: DiscordTurn[] = [];
    let cpuAtStart = 0;
    for (let i = 0; i < WARMUP + TURNS; i++) {
      const question = `question ${i} in a running DM`;
      // interleaved, so drift on a shared machine hits both alike
      const a = await directTurn(direct, question);
      const b = await discordTurn(fakeDiscord, people[i % PEOPLE]!, question, ANSWER_WORDS);
      if (i === WARMUP - 1) cpuAtStart = threadloom.cpuMs();
      if (i < WARMUP) continue;
      directSamples.push(a);
      chatSamples.push(b);
    }
    const cpu = threadloom.cpuMs() - cpuAtStart;
    const name = `chat_${scenario.name}`;
    report(`${name}_direct_first_token`, directSamples.map((s) => s.firstToken));
    report(`${name}_direct_total`, directSamples.map((s) => s.total));
    report(`${name}_first_post`, chatSamples.map((s) => s.firstPost));
    report(`${name}_final_edit`, chatSamples.map((s) => s.finalEdit));
    const posted = chatSamples.filter((s) => s.writes > 1).length;
    if (posted > 0) {
      // the first post waits the deliberate delay only when the answer was not complete by then
      report(`${name}_first_post_minus_delay`, chatSamples.filter((s) => s.writes > 1).map((s) => s.firstPost - FIRST_POST_DELAY_MS));
    }
    report(`${name}_final_edit_minus_direct_total`, chatSamples.map((s, i) => s.finalEdit - directSamples[i]!.total));
    figure(`${name}_answers_posted_then_edited`, posted, `of ${TURNS}`, 0);
    figure(`${name}_edits_per_answer`, chatSamples.reduce((n, s) => n + s.writes - 1, 0) / TURNS, 'edits', 2);
    figure(`${name}_threadloom_cpu_per_turn`, cpu / TURNS, 'ms', 1);
    const memory = threadloom.memory();
    figure(`${name}_after_anon_rss`, memory.anonMb, 'MB', 1);
    figure(`${name}_after_file_rss`, memory.fileMb, 'MB', 1);
    figure(`${name}_discord_rate_limited`, fakeDiscord.rateLimited, 'responses', 0);
  } finally {
    await threadloom?.stop();
    await discord?.close();
    fake?.close();
  }
}

const only = process.env.CHAT_SCENARIOS?.split(',');
for (const scenario of SCENARIOS.filter((s) => !only || only.includes(s.name))) await runScenario(scenario);
