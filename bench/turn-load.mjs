// 200 conversations streaming at once, in a fresh process running the compiled build, as
// `npm start` runs it. Prints event-loop delay and peak RSS. Arguments: the fake server's URL and
// the mode: `threadloom` (whole turns, each with its title call) or `sdk` (the same 400 streams
// through the bare openai SDK: the baseline).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '../dist/src/core/config.js';
import { silentLogger } from '../dist/src/core/log.js';
import { startRuntime } from '../dist/src/core/runtime.js';

const CONCURRENT = Number(process.env.CONCURRENT ?? 200);
const [url, mode = 'threadloom'] = process.argv.slice(2);
const prefix = mode === 'sdk' ? 'sdk_' : '';
const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-bench-load-'));
const config = loadConfig({ THREADLOOM_DATA_DIR: dir, THREADLOOM_DEFAULT_MODEL: 'openai/gpt-4o-mini', OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: url });
const runtime = mode === 'sdk' ? null : await startRuntime(
  { ...config, limits: { userTurnsPerMinute: 1000 }, providers: { ...config.providers, openai: { ...config.providers.openai, maxConcurrent: 1000 } } },
  { log: silentLogger },
);
const reply = () => {
  let n = 0;
  return {
    capabilities: { maxMessageLength: 2000, minEditIntervalMs: 1000, markdown: 'commonmark', buttons: true, threads: false },
    post: async () => `r${++n}`,
    edit: async () => {},
    typing: async () => {},
  };
};
const idleRss = process.memoryUsage().rss;
const loop = monitorEventLoopDelay({ resolution: 5 });
let peakRss = idleRss;
let peakHeap = 0; let peakExt = 0;
const sampler = setInterval(() => { const m = process.memoryUsage(); peakRss = Math.max(peakRss, m.rss); peakHeap = Math.max(peakHeap, m.heapTotal); peakExt = Math.max(peakExt, m.external + m.arrayBuffers); }, 20);
loop.enable();
const start = performance.now();
const OpenAI = mode === 'sdk' ? (await import('openai')).default : null;
const client = OpenAI ? new OpenAI({ apiKey: 'sk-bench', baseURL: url, maxRetries: 0 }) : null;
async function bareStream(maxTokens) {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'stream please' }], ...(maxTokens ? { max_tokens: maxTokens } : {}),
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  return text;
}
await Promise.all(
  Array.from({ length: CONCURRENT }, (_, i) => mode === 'sdk' ? Promise.all([bareStream(null), bareStream(24)]) :
    runtime.engine.handle(
      {
        platform: 'bench', eventId: `load-${i}`, channelId: `dm-${i}`, threadId: null, messageId: `m${i}`,
        author: { id: `user${i}`, name: `user${i}`, isBot: false }, text: 'stream please', attachments: [],
        replyTo: null, mentionsBot: false, isDirect: true, kind: 'message',
      },
      reply(),
    ),
  ),
);
const wall = performance.now() - start;
loop.disable();
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const done = runtime
  ? await runtime.deps.db
      .selectFrom('messages').select((eb) => eb.fn.countAll().as('n'))
      .where('role', '=', 'assistant').where('status', '=', 'complete').executeTakeFirstOrThrow()
  : { n: CONCURRENT };
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);
console.log(`${prefix}concurrent_conversations: ${CONCURRENT} conversations`);
console.log(`${prefix}concurrent_answers_complete: ${Number(done.n)} answers`);
console.log(`${prefix}concurrent_wall_time: ${wall.toFixed(0)} ms`);
console.log(`${prefix}event_loop_delay_p99: ${(loop.percentile(99) / 1e6).toFixed(3)} ms`);
console.log(`${prefix}event_loop_delay_max: ${(loop.max / 1e6).toFixed(3)} ms`);
console.log(`${prefix}idle_rss: ${mb(idleRss)} MB`);
console.log(`${prefix}peak_rss: ${mb(peakRss)} MB`);
console.log(`${prefix}peak_heap_total: ${mb(peakHeap)} MB`);
await runtime?.close();
rmSync(dir, { recursive: true, force: true });
