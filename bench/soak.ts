/**
 * Memory over a long run: 10,000 turns through `/v1/chat/completions` of the shipped build
 * (`node dist/src/main.js`) from a few concurrent clients, as real use looks: mostly chats that a
 * client continues for a few dozen turns (sending the chat so far each time), some one-question
 * chats, some streamed, some not. Samples the process's memory every SAMPLE_EVERY turns, split
 * into anonymous pages (what the process allocates) and file-backed ones (the node binary, shared
 * libraries, and SQLite's memory map of the database, which grows with the file), beside the
 * database and WAL sizes on disk. Nothing is forced: no --expose-gc, no gc() calls.
 *
 * Discord is connected to the fake Discord (in this process) from the start, and after the API
 * turns SOAK_DISCORD_TURNS (1,000) DMs go through it, two people per client.
 *
 * SOAK_TURNS shortens the run; SOAK_CLIENTS sets the concurrent clients. The samples go to a CSV
 * file under the OS tmp dir, whose path is printed.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { startFakeDiscord, type FakeDiscord } from '../test/fakes/discord/index.js';
import { startFakeOpenAI, type FakeProviderServer } from '../test/fakes/providers.js';
import { discordTurn } from './discord-turn.js';
import { seedDatabase, startThreadloom, type ThreadloomProcess } from './process.js';
import { figure } from './stats.js';

const TURNS = Number(process.env.SOAK_TURNS ?? 10_000);
const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 4);
/** after the API turns, DMs on the fake Discord (connected from the start; 0: no Discord) */
const DISCORD_TURNS = Number(process.env.SOAK_DISCORD_TURNS ?? 1_000);
/** DMs go to this many people, two per concurrent client, so no DM channel nears Discord's rate limits */
const DISCORD_PEOPLE = 8;
const WARMUP_TURNS = Math.min(1_000, Math.floor(TURNS / 10));
const SAMPLE_EVERY = Math.max(10, Math.floor(TURNS / 100));
const ANSWER_WORDS = 120;
/** a continued chat runs this many turns, then the client starts a new one */
const CHAT_TURNS = { min: 12, max: 48 };
const ONE_QUESTION_CHATS = 0.15;
const ADMIN_PASSWORD = 'soak-bench-password';
/**
 * SOAK_HEAP_METRICS=1 also samples V8's heap and external memory from /metrics. Off by default: each
 * sample checks the admin password (scrypt), whose buffers stay in the process's anonymous pages.
 */
const HEAP_METRICS = process.env.SOAK_HEAP_METRICS === '1';
/** SOAK_HEAP_SNAPSHOTS=2000,10000: heap snapshots of Threadloom at those turns (into the OS tmp dir) */
const SNAPSHOT_AT = new Set((process.env.SOAK_HEAP_SNAPSHOTS ?? '').split(',').filter(Boolean).map(Number));
const STREAMED_CHATS = 0.6;

type Message = { role: 'user' | 'assistant'; content: string };

interface Sample {
  turns: number;
  seconds: number;
  rssMb: number;
  anonMb: number;
  fileMb: number;
  /** resident pages of the database file's own mapping (SQLite's memory map) */
  dbMappedMb: number;
  dbFileMb: number;
  walFileMb: number;
  /** V8's heap, used and reserved, and memory held by JS objects outside it, from /metrics (SOAK_HEAP_METRICS=1) */
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  load1: number;
  /** CPU time of the Threadloom process since ready */
  cpuMs: number;
}

let seed = 7;
const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;

/** Resident kB of the mappings of one file, from /proc/<pid>/smaps. */
function mappedRssMb(pid: number, file: string): number {
  let kb = 0;
  let inFile = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inFile = line.endsWith(` ${file}`);
    else if (inFile && line.startsWith('Rss:')) kb += Number(/(\d+)/.exec(line)![1]);
  }
  return kb / 1024;
}

const fileMb = (file: string): number => {
  try {
    return statSync(file).size / 2 ** 20;
  } catch {
    return 0;
  }
};

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return num / den;
}

async function turn(client: OpenAI, messages: Message[], stream: boolean): Promise<string> {
  if (!stream) {
    const completion = await client.chat.completions.create({ model: 'experience/general', messages });
    return completion.choices[0]?.message.content ?? '';
  }
  let text = '';
  for await (const chunk of await client.chat.completions.create({ model: 'experience/general', messages, stream: true })) {
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  return text;
}

async function main(): Promise<void> {
  let fake: FakeProviderServer | undefined;
  let discord: FakeDiscord | undefined;
  let threadloom: ThreadloomProcess | undefined;
  try {
    // In this process, with an answer that ends as most models' do (fake-openai-server.ts's ends in a
    // space; until ae451c3 such an answer made every continued turn a new conversation seeded with
    // the whole chat). Threadloom's memory is what is measured; this process's load does not count.
    const answer = Array.from({ length: ANSWER_WORDS }, () => 'tok').join(' ');
    const answerFor = (request: { body: { max_tokens?: number; max_completion_tokens?: number } }): string =>
      (request.body.max_completion_tokens ?? request.body.max_tokens ?? Infinity) < ANSWER_WORDS ? 'A chat title' : answer;
    fake = await startFakeOpenAI({ models: ['*'], defaultAnswer: answerFor, chunkSize: 4 });
    if (DISCORD_TURNS > 0) discord = await startFakeDiscord();
    let token = '';
    const log: string[] = [];
    threadloom = await startThreadloom({
      onLine: (line) => {
        log.push(line);
        if (log.length > 20) log.shift();
      },
      config: {
        defaultModel: 'openai/gpt-4o-mini',
        providers: { openai: { kind: 'openai', baseURL: fake.url, apiKey: 'sk-bench', maxConcurrent: 64 } },
        limits: { userTurnsPerMinute: 1_000_000 },
        ...(HEAP_METRICS ? { admin: { password: ADMIN_PASSWORD } } : {}),
        ...(discord ? { discord: { token: 'bench-token', apiBaseURL: discord.apiUrl } } : {}),
      },
      prepare: async (dir) => {
        ({ token } = await seedDatabase(dir));
      },
    });
    const pid = threadloom.child.pid!;
    const onExit = (code: number | null, signal: string | null) => console.error(`# threadloom exited (${code ?? signal}) during the soak; its last lines:\n${log.join('\n')}`);
    threadloom.child.once('exit', onExit);
    let cpuAtReady = 0;
    const dbFile = path.join(threadloom.dataDir, 'threadloom.db');
    const started = performance.now();
    const samples: Sample[] = [];
    const metrics = async (): Promise<{ heapUsedMb: number; heapTotalMb: number; externalMb: number }> => {
      if (!HEAP_METRICS) return { heapUsedMb: NaN, heapTotalMb: NaN, externalMb: NaN };
      const response = await fetch(`${threadloom!.adminUrl}/metrics`, { headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` } });
      const text = await response.text();
      const value = (name: string) => Number(new RegExp(`^${name} ([0-9.e+]+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
      return { heapUsedMb: value('nodejs_heap_size_used_bytes'), heapTotalMb: value('nodejs_heap_size_total_bytes'), externalMb: value('nodejs_external_memory_bytes') };
    };
    const sample = async (turns: number): Promise<Sample> => {
      const s = {
        ...(await metrics()),
        turns,
        seconds: (performance.now() - started) / 1000,
        ...threadloom!.memory(),
        dbMappedMb: mappedRssMb(pid, dbFile),
        dbFileMb: fileMb(dbFile),
        walFileMb: fileMb(`${dbFile}-wal`),
        load1: loadavg()[0]!,
        cpuMs: threadloom!.cpuMs() - cpuAtReady,
      };
      samples.push(s);
      return s;
    };
    cpuAtReady = threadloom.cpuMs();
    const ready = await sample(0);

    const api = new OpenAI({ apiKey: token, baseURL: `${threadloom.adminUrl}/v1`, maxRetries: 0 });
    let next = 0;
    let done = 0;
    let chats = 0;
    let streamed = 0;
    const client = async (): Promise<void> => {
      while (next < TURNS) {
        chats++;
        const length = random() < ONE_QUESTION_CHATS ? 1 : CHAT_TURNS.min + Math.floor(random() * (CHAT_TURNS.max - CHAT_TURNS.min + 1));
        const stream = random() < STREAMED_CHATS;
        const history: Message[] = [];
        for (let t = 0; t < length && next < TURNS; t++) {
          next++;
          const question = `question ${t + 1} of chat ${chats}: what about ${Math.floor(random() * 1e6)}?`;
          const answer = await turn(api, [...history, { role: 'user', content: question }], stream);
          if (answer.split('\n')[0]!.split(' ').filter(Boolean).length !== ANSWER_WORDS) throw new Error(`unexpected answer: ${JSON.stringify(answer)}`);
          history.push({ role: 'user', content: question }, { role: 'assistant', content: answer });
          if (stream) streamed++;
          const turns = ++done;
          if (turns % SAMPLE_EVERY === 0 || turns === WARMUP_TURNS) {
            await sample(turns);
            if (SNAPSHOT_AT.has(turns)) {
              // written by node on the signal (THREADLOOM_BENCH_NODE_ARGS="--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=…")
              threadloom!.child.kill('SIGUSR2');
              console.error(`# heap snapshot asked for at turn ${turns}`);
            }
            fake!.requests.length = 0; // the fake records every request; this process need not keep them
          }
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    if (samples.at(-1)!.turns !== done) await sample(done);
    const wallSeconds = (performance.now() - started) / 1000;
    const cpuMs = threadloom.cpuMs() - cpuAtReady;
    const apiEnd = samples.at(-1)!;

    const discordStarted = performance.now();
    const finalEdits: number[] = [];
    if (discord) {
      const people = Array.from({ length: DISCORD_PEOPLE }, (_, i) => discord!.addUser({ username: `person${i}` }).id);
      let nextDm = 0;
      const dmClient = async (c: number): Promise<void> => {
        for (let t = 0; nextDm < DISCORD_TURNS; t++) {
          nextDm++;
          const person = people[2 * c + (t % 2)]!;
          finalEdits.push((await discordTurn(discord!, person, `question ${t} in a running DM`, ANSWER_WORDS)).finalEdit);
          const turns = TURNS + finalEdits.length;
          if (turns % SAMPLE_EVERY === 0) await sample(turns);
        }
      };
      await Promise.all(Array.from({ length: Math.min(CLIENTS, DISCORD_PEOPLE / 2) }, (_, c) => dmClient(c)));
      if (samples.at(-1)!.turns !== TURNS + finalEdits.length) await sample(TURNS + finalEdits.length);
    }
    const discordSeconds = (performance.now() - discordStarted) / 1000;

    const warm = samples.find((s) => s.turns === WARMUP_TURNS)!;
    const end = apiEnd;
    const lastHalf = samples.filter((s) => s.turns >= TURNS / 2 && s.turns <= TURNS);
    const perThousand = (pick: (s: Sample) => number) => slope(lastHalf.map((s) => [s.turns / 1000, pick(s)]));
    const apiSamples = samples.filter((s) => s.turns <= TURNS);
    const peak = (pick: (s: Sample) => number) => Math.max(...apiSamples.map(pick));

    figure('soak_turns', done, 'turns', 0);
    figure('soak_chats', chats, 'chats', 0);
    figure('soak_streamed_share', streamed / done, '', 2);
    figure('soak_clients', CLIENTS, 'clients', 0);
    figure('soak_wall', wallSeconds, 's', 1);
    figure('soak_cpu_per_turn', cpuMs / done, 'ms', 2);
    for (const [name, s] of [['ready', ready], ['warm', warm], ['end', end]] as const) {
      figure(`soak_${name}_anon_rss`, s.anonMb, 'MB', 1);
      if (HEAP_METRICS) figure(`soak_${name}_heap_used`, s.heapUsedMb, 'MB', 1);
      figure(`soak_${name}_file_rss`, s.fileMb, 'MB', 1);
      figure(`soak_${name}_db_mapped_rss`, s.dbMappedMb, 'MB', 1);
      figure(`soak_${name}_rss`, s.rssMb, 'MB', 1);
      figure(`soak_${name}_db_file`, s.dbFileMb, 'MB', 1);
      figure(`soak_${name}_wal_file`, s.walFileMb, 'MB', 1);
    }
    figure('soak_peak_anon_rss', peak((s) => s.anonMb), 'MB', 1);
    if (HEAP_METRICS) figure('soak_peak_heap_used', peak((s) => s.heapUsedMb), 'MB', 1);
    figure('soak_peak_file_rss', peak((s) => s.fileMb), 'MB', 1);
    figure('soak_peak_rss', peak((s) => s.rssMb), 'MB', 1);
    figure('soak_anon_rss_slope_last_half', perThousand((s) => s.anonMb), 'MB/1000 turns', 2);
    // anonymous memory is a sawtooth (V8 lets garbage build up to a major collection): the lowest
    // sample of each tenth of the run is what stays live, and its slope shows growth without the teeth
    const tenth = TURNS / 10;
    const floors = [5, 6, 7, 8, 9].map((k): [number, number] => {
      const window = samples.filter((s) => s.turns > k * tenth && s.turns <= (k + 1) * tenth);
      return [((k + 0.5) * tenth) / 1000, Math.min(...window.map((s) => s.anonMb))];
    });
    figure('soak_anon_rss_floor_slope_last_half', slope(floors), 'MB/1000 turns', 2);
    figure('soak_anon_rss_floor_last_tenth', floors.at(-1)![1], 'MB', 1);
    figure('soak_file_rss_slope_last_half', perThousand((s) => s.fileMb), 'MB/1000 turns', 2);
    figure('soak_db_file_slope_last_half', perThousand((s) => s.dbFileMb), 'MB/1000 turns', 2);
    if (discord) {
      const afterDiscord = samples.at(-1)!;
      const sorted = [...finalEdits].sort((a, b) => a - b);
      figure('soak_discord_turns', finalEdits.length, 'turns', 0);
      figure('soak_discord_wall', discordSeconds, 's', 1);
      figure('soak_discord_final_edit_median', sorted[Math.floor(sorted.length / 2)]!, 'ms', 1);
      figure('soak_after_discord_anon_rss', afterDiscord.anonMb, 'MB', 1);
      figure('soak_after_discord_file_rss', afterDiscord.fileMb, 'MB', 1);
      figure('soak_after_discord_rss', afterDiscord.rssMb, 'MB', 1);
      figure('soak_discord_peak_anon_rss', Math.max(...samples.filter((s) => s.turns > TURNS).map((s) => s.anonMb)), 'MB', 1);
      figure('soak_after_discord_db_file', afterDiscord.dbFileMb, 'MB', 1);
    }
    figure('soak_load_average_1min_min', Math.min(...samples.map((s) => s.load1)), '', 2);
    figure('soak_load_average_1min_max', peak((s) => s.load1), '', 2);

    const csv = path.join(tmpdir(), `threadloom-soak-${process.pid}.csv`);
    const columns = Object.keys(ready) as Array<keyof Sample>;
    writeFileSync(csv, [columns.join(','), ...samples.map((s) => columns.map((c) => Number(s[c].toFixed(2))).join(','))].join('\n') + '\n');
    console.error(`# samples: ${csv}`);
    const heapColumns = HEAP_METRICS ? ' heapU heapT   extn' : '';
    console.error(`#  turns   anon${heapColumns}   file db-map    rss db-file   wal   load cpu-s`);
    const every = Math.max(1, Math.floor(samples.length / 20));
    for (const s of samples.filter((x, i) => i % every === 0 || x === end || i === samples.length - 1)) {
      console.error(`# ${[s.turns, s.anonMb, ...(HEAP_METRICS ? [s.heapUsedMb, s.heapTotalMb, s.externalMb] : []), s.fileMb, s.dbMappedMb, s.rssMb, s.dbFileMb, s.walFileMb, s.load1, s.cpuMs / 1000].map((v, i) => (i === 0 ? String(v).padStart(6) : v.toFixed(1).padStart(6))).join(' ')}`);
    }
  } finally {
    threadloom?.child.removeAllListeners('exit');
    await threadloom?.stop();
    await discord?.close();
    await fake?.close();
  }
}

await main();
