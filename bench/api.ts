/**
 * A turn through the real process, as an OpenAI client sees it: the official `openai` SDK calls
 * Threadloom's `/v1/chat/completions` on `node dist/src/main.js` (the shipped build), which calls
 * the fake OpenAI server in a third process. The same client calls the fake directly in the same
 * run, interleaved, as the baseline. Streamed and not; a new conversation per turn and one
 * conversation continued turn after turn.
 */
import OpenAI from 'openai';
import { seedDatabase, startFakeProvider, startThreadloom, type ThreadloomProcess } from './process.js';
import { figure, quantile } from './stats.js';

const TURNS = Number(process.env.API_TURNS ?? 200);
const WARMUP = 10;
const ANSWER_WORDS = 50;

type Message = { role: 'user' | 'assistant'; content: string };
interface Sample {
  total: number;
  /** to the first content text (streamed only) */
  firstToken: number;
}

async function call(client: OpenAI, model: string, messages: Message[], stream: boolean): Promise<Sample & { text: string }> {
  const start = performance.now();
  if (!stream) {
    const completion = await client.chat.completions.create({ model, messages });
    const text = completion.choices[0]?.message.content ?? '';
    const total = performance.now() - start;
    return { total, firstToken: total, text };
  }
  const chunks = await client.chat.completions.create({ model, messages, stream: true });
  let firstToken = NaN;
  let text = '';
  for await (const chunk of chunks) {
    const piece = chunk.choices[0]?.delta?.content ?? '';
    if (piece && Number.isNaN(firstToken)) firstToken = performance.now() - start;
    text += piece;
  }
  return { total: performance.now() - start, firstToken, text };
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99) };
};

async function main(): Promise<void> {
  const fake = await startFakeProvider({ ANSWER_TOKENS: String(ANSWER_WORDS) });
  let token = '';
  const threadloom = await startThreadloom({
    config: {
      defaultModel: 'openai/gpt-4o-mini',
      providers: { openai: { kind: 'openai', baseURL: fake.url, apiKey: 'sk-bench', maxConcurrent: 64 } },
      limits: { userTurnsPerMinute: 1_000_000 },
    },
    prepare: async (dir) => {
      ({ token } = await seedDatabase(dir));
    },
  });
  try {
    await measure(threadloom, fake.url, token);
  } finally {
    await threadloom.stop();
    fake.close();
  }
}

async function measure(threadloom: ThreadloomProcess, fakeUrl: string, token: string): Promise<void> {
  const direct = new OpenAI({ apiKey: 'sk-bench', baseURL: fakeUrl, maxRetries: 0 });
  const api = new OpenAI({ apiKey: token, baseURL: `${threadloom.adminUrl}/v1`, maxRetries: 0 });
  figure('api_ready_rss', threadloom.memory().rssMb, 'MB', 1);

  const modes = [
    { name: 'stream_new', stream: true, continued: false },
    { name: 'stream_continued', stream: true, continued: true },
    { name: 'whole_new', stream: false, continued: false },
    { name: 'whole_continued', stream: false, continued: true },
  ];
  let n = 0;
  const only = process.env.API_MODES?.split(',');
  for (const mode of modes.filter((m) => !only || only.includes(m.name))) {
    const samples = { direct: [] as Sample[], threadloom: [] as Sample[] };
    // one conversation for the continued mode: the client sends it all each time, as clients do
    const history: Message[] = [];
    let cpuAtStart = 0;
    for (let i = 0; i < WARMUP + TURNS; i++) {
      const question = mode.continued ? `question ${i} of a long chat` : `question ${++n} starts a chat`;
      const messages: Message[] = [...history, { role: 'user', content: question }];
      // interleaved, so drift on a shared machine hits both alike
      const a = await call(direct, 'gpt-4o-mini', messages, mode.stream);
      const b = await call(api, 'experience/general', messages, mode.stream);
      if (b.text.split('\n')[0]!.split(' ').filter(Boolean).length !== ANSWER_WORDS) throw new Error(`unexpected answer through Threadloom: ${JSON.stringify(b.text)}`);
      if (mode.continued) history.push({ role: 'user', content: question }, { role: 'assistant', content: b.text });
      if (i === WARMUP - 1) cpuAtStart = threadloom.cpuMs();
      if (i < WARMUP) continue;
      samples.direct.push(a);
      samples.threadloom.push(b);
    }
    const d = stats(samples.direct.map((s) => s.total));
    const t = stats(samples.threadloom.map((s) => s.total));
    const added = stats(samples.threadloom.map((s, i) => s.total - samples.direct[i]!.total));
    figure(`${mode.name}_direct_median`, d.median, 'ms');
    figure(`${mode.name}_direct_p95`, d.p95, 'ms');
    figure(`${mode.name}_threadloom_median`, t.median, 'ms');
    figure(`${mode.name}_threadloom_p95`, t.p95, 'ms');
    figure(`${mode.name}_threadloom_p99`, t.p99, 'ms');
    figure(`${mode.name}_added_median`, t.median - d.median, 'ms');
    figure(`${mode.name}_added_p99`, added.p99, 'ms');
    figure(`${mode.name}_threadloom_cpu_per_turn`, (threadloom.cpuMs() - cpuAtStart) / TURNS, 'ms');
    if (mode.stream) {
      const df = stats(samples.direct.map((s) => s.firstToken));
      const tf = stats(samples.threadloom.map((s) => s.firstToken));
      figure(`${mode.name}_direct_first_token_median`, df.median, 'ms');
      figure(`${mode.name}_threadloom_first_token_median`, tf.median, 'ms');
      figure(`${mode.name}_added_first_token_median`, tf.median - df.median, 'ms');
    }
  }
  const memory = threadloom.memory();
  figure('api_turns_through_threadloom', modes.length * (WARMUP + TURNS), 'turns', 0);
  figure('api_after_rss', memory.rssMb, 'MB', 1);
  figure('api_after_anon_rss', memory.anonMb, 'MB', 1);
}

await main();
