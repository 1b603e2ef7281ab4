/**
 * Semantic search at scale: 1,000,000 stored vectors of 384 dimensions across 20 Experiences,
 * written through SearchStore (the indexer's own path) into a real SQLite file. Prints the index
 * time, then the query time (median, p99) within one Experience and across all, for the
 * bit-vector scan with exact re-scoring that search uses, beside the exact float scan it
 * replaces (the baseline, measured in the same run), and recall@10 against exact search.
 *
 * The vectors are synthetic but shaped like text embeddings: 1,000 topics of 10 subtopics each,
 * every message a mix of its topic, subtopic and noise (cosine ≈ 0.75 within a subtopic, 0.5
 * within a topic, 0 across); queries are paraphrases (a stored message moved by noise).
 * BENCH_VECTORS, BENCH_RUNS and BENCH_CANDIDATES make it smaller or try another pool size.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migrateToLatest } from '../src/core/db/migrate.js';
import { openDatabase } from '../src/core/db/open.js';
import { RESCORE_CANDIDATES } from '../src/core/search/service.js';
import { SearchStore, type PendingMessage } from '../src/core/search/store.js';
import { figure, summarise } from './stats.js';

const VECTORS = Number(process.env.BENCH_VECTORS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const CANDIDATES = Number(process.env.BENCH_CANDIDATES ?? RESCORE_CANDIDATES);
const RECALL_QUERIES = 100;
const BASELINE_RUNS = 15;
const BASELINE_VECTORS = Math.min(100_000, VECTORS);
const DIMENSION = 384;
const EXPERIENCES = 20;
const TOPICS = 1_000;
const SUBTOPICS = 10;
const BATCH = 1_000;
const K = 10;

let seed = 11;
const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
}
function unitRandom(): Float32Array {
  const v = new Float32Array(DIMENSION);
  for (let i = 0; i < DIMENSION; i++) v[i] = gaussian();
  return normalise(v);
}
function normalise(v: Float32Array): Float32Array {
  let norm = 0;
  for (let i = 0; i < v.length; i++) norm += v[i]! * v[i]!;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}
function mix(parts: Array<[Float32Array, number]>): Float32Array {
  const v = new Float32Array(DIMENSION);
  for (const [part, weight] of parts) for (let i = 0; i < DIMENSION; i++) v[i]! += part[i]! * weight;
  return normalise(v);
}

const topics = Array.from({ length: TOPICS }, unitRandom);
const subtopics = Array.from({ length: TOPICS * SUBTOPICS }, unitRandom);
// every vector is kept (1.5 GB for a million) so exact answers can be computed for recall
const all = new Float32Array(VECTORS * DIMENSION);
const experienceOf = new Uint8Array(VECTORS);

const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-bench-search-'));
const file = path.join(dir, 'threadloom.db');
const database = openDatabase(file);
await migrateToLatest(database.db);
const store = new SearchStore(database.sqlite);
await store.reset('bench/synthetic-384');
await store.ensureVectors(DIMENSION);

// the rows the vectors belong to (status 'error': no keyword index or queue entries for them)
database.sqlite.transaction(() => {
  const experience = database.sqlite.prepare(`INSERT INTO experiences(id, slug, name, persona_name) VALUES (?, ?, ?, 'P')`);
  for (let e = 1; e <= EXPERIENCES; e++) experience.run(e, `e${e}`, `E${e}`);
  const conversation = database.sqlite.prepare(`INSERT INTO conversations(id, platform, channel_id, thread_id, experience_id) VALUES (?, 'discord', ?, ?, 1)`);
  for (let c = 1; c <= Math.ceil(VECTORS / 20); c++) conversation.run(c, `c${c % 300}`, `t${c}`);
  const message = database.sqlite.prepare(`INSERT INTO messages(id, conversation_id, role, content, status) VALUES (?, ?, 'user', '', 'error')`);
  for (let i = 0; i < VECTORS; i++) message.run(i + 1, 1 + Math.floor(i / 20));
})();

console.log(`# ${VECTORS.toLocaleString('en')} vectors × ${DIMENSION} dimensions, ${EXPERIENCES} Experiences, ${CANDIDATES} candidates re-scored`);
let indexMs = 0;
for (let start = 0; start < VECTORS; start += BATCH) {
  const batch: Array<{ message: PendingMessage; vector: Float32Array }> = [];
  for (let i = start; i < Math.min(VECTORS, start + BATCH); i++) {
    const topic = Math.floor(random() * TOPICS);
    const sub = topic * SUBTOPICS + Math.floor(random() * SUBTOPICS);
    const vector = mix([[topics[topic]!, 1], [subtopics[sub]!, 0.7], [unitRandom(), 0.7]]);
    all.set(vector, i * DIMENSION);
    const experienceId = 1 + (topic % EXPERIENCES);
    experienceOf[i] = experienceId;
    batch.push({
      vector,
      message: { messageId: i + 1, content: '', experienceId, conversationId: 1 + Math.floor(i / 20), platform: 'discord', channelId: `c${i % 300}`, authorId: `u${i % 500}`, attempts: 0, reason: 'content' },
    });
  }
  const started = performance.now();
  await store.store(batch);
  indexMs += performance.now() - started;
}
figure('index_time', indexMs / 1000, 's', 1);
figure('index_rate', VECTORS / (indexMs / 1000), 'vectors/s', 0);
database.sqlite.pragma('wal_checkpoint(TRUNCATE)');
figure('database_size', statSync(file).size / 2 ** 20, 'MiB', 0);

/** A paraphrase of a random stored message, and its Experience. */
function query(): { vector: Float32Array; experienceId: number } {
  const i = Math.floor(random() * VECTORS);
  const vector = mix([[all.subarray(i * DIMENSION, (i + 1) * DIMENSION), 1], [unitRandom(), 0.5]]);
  return { vector, experienceId: experienceOf[i]! };
}

/** The exact top K by cosine distance, in memory (vectors are unit length: cosine = dot). */
function exactTop(q: Float32Array, experienceId: number | null): Set<number> {
  const best: Array<[number, number]> = [];
  for (let i = 0; i < VECTORS; i++) {
    if (experienceId !== null && experienceOf[i] !== experienceId) continue;
    let dot = 0;
    const base = i * DIMENSION;
    for (let d = 0; d < DIMENSION; d++) dot += q[d]! * all[base + d]!;
    if (best.length < K || dot > best[best.length - 1]![0]) {
      best.push([dot, i + 1]);
      best.sort((a, b) => b[0] - a[0]);
      if (best.length > K) best.pop();
    }
  }
  return new Set(best.map(([, id]) => id));
}

/** The SQLite store works synchronously inside its async methods: the time measured is the query's. */
function time(run: () => unknown, runs: number): number[] {
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const started = performance.now();
    run();
    samples.push(performance.now() - started);
  }
  return samples;
}

// the baseline: brute-force float KNN, in a table of its own
database.sqlite.exec(`CREATE VIRTUAL TABLE baseline USING vec0(message_id integer primary key, embedding float[${DIMENSION}] distance_metric=cosine)`);
const insertBaseline = database.sqlite.prepare('INSERT INTO baseline(message_id, embedding) VALUES (CAST(? AS INTEGER), ?)');
database.sqlite.transaction(() => {
  for (let i = 0; i < BASELINE_VECTORS; i++) insertBaseline.run(i + 1, Buffer.from(all.buffer, i * DIMENSION * 4, DIMENSION * 4));
})();
const floatKnn = database.sqlite.prepare('SELECT message_id FROM baseline WHERE embedding MATCH ? AND k = ?');
const baselineQueries = Array.from({ length: BASELINE_RUNS }, query);
let b = 0;
const baselineMedian = summarise(time(() => floatKnn.all(Buffer.from(baselineQueries[b++]!.vector.buffer), K), BASELINE_RUNS)).median;
figure(BASELINE_VECTORS === 100_000 ? 'float_knn_100k_median' : `float_knn_${BASELINE_VECTORS}_median`, baselineMedian, 'ms', 1);

for (const scope of ['experience', 'all'] as const) {
  const queries = Array.from({ length: RUNS }, query);
  const filterOf = (q: { experienceId: number }) => (scope === 'experience' ? { experienceIds: [q.experienceId] } : {});
  // warm up (a running server has its pages mapped already), then measure
  let w = 0;
  time(() => {
    const q = queries[w++ % queries.length]!;
    return store.nearest(q.vector, filterOf(q), K, CANDIDATES);
  }, 40);
  let n = 0;
  const samples = time(() => {
    const q = queries[n++ % queries.length]!;
    return store.nearest(q.vector, filterOf(q), K, CANDIDATES);
  }, RUNS);
  const { median, p99 } = summarise(samples);
  figure(`query_${scope}_median`, median, 'ms', 1);
  figure(`query_${scope}_p99`, p99, 'ms', 1);

  if (scope === 'all') figure('speedup_all', (baselineMedian * VECTORS) / BASELINE_VECTORS / median, 'x', 1);

  let hits = 0;
  for (const q of queries.slice(0, RECALL_QUERIES)) {
    const truth = exactTop(q.vector, scope === 'experience' ? q.experienceId : null);
    hits += (await store.nearest(q.vector, filterOf(q), K, CANDIDATES)).filter((r) => truth.has(r.messageId)).length;
  }
  figure(`recall_at_10_${scope}`, hits / (Math.min(RECALL_QUERIES, queries.length) * K), '', 3);
}

await database.close();
rmSync(dir, { recursive: true, force: true });
