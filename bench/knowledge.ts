/**
 * Knowledge retrieval on real documents: this machine's manual pages (man1, man8) read into one
 * Experience's knowledge, and questions whose answer is a known page.
 *   (a) recall@5 with keywords alone, then hybrid (keywords + vectors from a stand-in embedder)
 *   (b) ingest speed of a 500-page PDF, from its bytes to status indexed (keywords only)
 *   (c) retrieve() latency over 100,000 chunks in one Experience, keywords only, then hybrid
 *
 * The questions are made from each page's NAME line ("tail - output the last part of files" →
 * "how do I output the last part of files?") without the command's own name, plus the
 * hand-written ones in knowledge-questions.json. There are no embedding weights offline: the
 * fake OpenAI server embeds with a hashed bag of stemmed words (see bench/README.md).
 * BENCH_PAGES, BENCH_CHUNKS and BENCH_VECTORS_100K=0 make it smaller or skip the 100k vectors;
 * BENCH_KEEP=1 keeps the data directory (its path is printed) to look into afterwards.
 * KNOWLEDGE_BENCH=latency runs (c) alone (about a minute): the questions are made, the pages are
 * not added, so there is no recall and no ingest figure.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadConfig } from '../src/core/config.js';
import { requireSqlite } from '../src/core/db/open.js';
import { createKnowledge } from '../src/core/knowledge/create.js';
import { insertDocument, replaceChunks } from '../src/core/knowledge/repository.js';
import type { KnowledgeService } from '../src/core/knowledge/service.js';
import { contentWords, KnowledgeStore } from '../src/core/knowledge/store.js';
import { silentLogger } from '../src/core/log.js';
import { startRuntime } from '../src/core/runtime.js';
import { startFakeOpenAI } from '../test/fakes/providers.js';
import { makePdf, type PdfPage } from '../test/core/knowledge/files.js';
import { readManPage, type ManPage } from './roff.js';
import { figure, summarise } from './stats.js';

const PAGES = Number(process.env.BENCH_PAGES ?? 400);
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 100_000);
const VECTORS_100K = process.env.BENCH_VECTORS_100K !== '0';
const LATENCY_ONLY = process.env.KNOWLEDGE_BENCH === 'latency';
const PDF_PAGES = 500;
const RETRIEVALS = 200;
const TOP = 5;
const EMBED_DIMENSION = 256;
const CHUNKS_PER_DOCUMENT = 100;
/** documents of the 100k corpus written per transaction: fewer commits, a quicker build */
const DOCUMENTS_PER_TRANSACTION = 50;
/** pages longer than this (bash, ffmpeg-all) would be most of the chunks; left out */
const MAX_PAGE_CHARS = 200_000;
const DRAIN_TIMEOUT_MS = 6 * 60_000;
const MAN = '/usr/share/man';
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

let seed = 7;
const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** "displays" → "display", "directories" → "directori": enough to match a word's forms. */
function stem(word: string): string {
  return word.replace(/(ing|ed|es|s|ly)$/, '') || word;
}

/**
 * The stand-in for an embedding model: stemmed content words hashed (with a sign) into the
 * dimensions, normalised. Texts sharing words point alike; it knows no synonyms.
 */
function bagOfWords(text: string, dimension: number): number[] {
  const vector = new Array<number>(dimension).fill(0);
  for (const word of contentWords(text)) {
    const digest = createHash('md5').update(stem(word)).digest();
    vector[digest.readUInt32LE(0) % dimension]! += digest[4]! & 1 ? 1 : -1;
  }
  const norm = Math.hypot(...vector) || 1;
  return vector.map((v) => v / norm);
}

interface Page extends ManPage {
  /** "tail" for /usr/share/man/man1/tail.1.gz */
  page: string;
}

function readPage(file: string): Page | null {
  try {
    const roff = gunzipSync(readFileSync(file)).toString('utf8');
    if (/^\.so\s/m.test(roff.slice(0, 400)) && roff.length < 400) return null;
    const read = readManPage(roff);
    if (!read.description || read.markdown.length < 400 || read.markdown.length > MAX_PAGE_CHARS) return null;
    return { ...read, page: path.basename(file).replace(/\.\d\w*\.gz$/, '') };
  } catch {
    return null;
  }
}

/** The hand-written pages first, then every nth page of man1 and man8, no file read twice. */
function choosePages(wanted: readonly string[]): Page[] {
  const files = ['man1', 'man8'].flatMap((dir) =>
    readdirSync(path.join(MAN, dir)).filter((f) => /\.[18]\.gz$/.test(f)).sort().map((f) => path.join(MAN, dir, f)),
  );
  const seen = new Set<string>();
  const pages: Page[] = [];
  const take = (file: string): void => {
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    const page = readPage(file);
    if (page && !pages.some((p) => p.markdown === page.markdown)) pages.push(page);
  };
  for (const name of wanted) {
    const file = files.find((f) => path.basename(f).replace(/\.[18]\.gz$/, '') === name);
    if (file) take(file);
  }
  const stride = Math.max(1, Math.floor(files.length / (PAGES * 1.6)));
  for (let i = 0; i < files.length && pages.length < PAGES; i += stride) take(files[i]!);
  return pages;
}

/** Words that begin a NAME line's noun phrase ("an archiving utility"), not an action. */
const NOUN_STARTS = new Set(['a', 'an', 'the', 'simple', 'small', 'tool', 'utility', 'program', 'command', 'interface', 'wrapper', 'script', 'frontend', 'front-end', 'helper', 'daemon', 'library', 'generic']);

/** A question for a page's NAME line without the page's own names, or null when too little is left. */
function questionFor(page: Page): string | null {
  if (/manual page for|^\s*$/i.test(page.description)) return null;
  const own = new Set([page.page, ...page.names].flatMap((n) => n.toLowerCase().split(/[^\p{L}\p{N}]+/u)).filter(Boolean));
  const words = page.description
    .replace(/[\s.;:]+$/, '')
    .split(/\s+/)
    .filter((w) => !own.has(w.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '')));
  if (contentWords(words.join(' ')).length < 2) return null;
  const first = words[0]!;
  if (/^[a-z]/.test(first) && !NOUN_STARTS.has(first)) {
    words[0] = first.replace(/ies$/, 'y').replace(/(ch|sh|ss|x)es$/, '$1').replace(/([^su])s$/, '$1');
    return `how do I ${words.join(' ')}?`;
  }
  return `tell me about the ${words.join(' ').replace(/^(a|an|the) /i, '')}`;
}

interface Question {
  question: string;
  page: string;
}

async function recallAt5(knowledge: KnowledgeService, experienceId: number, questions: readonly Question[], documents: Map<string, number>): Promise<{ recall: number; meaning: number }> {
  let hits = 0;
  let meaning = 0;
  for (const q of questions) {
    const sources = await knowledge.retrieve(experienceId, q.question, { maxTokens: 1_000_000, limit: TOP });
    if (sources.some((s) => s.documentId === documents.get(q.page))) hits++;
    if (sources.some((s) => s.matched.includes('meaning'))) meaning++;
  }
  return { recall: hits / questions.length, meaning: meaning / questions.length };
}

async function waitForVectors(knowledge: KnowledgeService, experienceId: number): Promise<boolean> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const status = await knowledge.status(experienceId);
    if (status.chunks > 0 && status.waiting === 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

/** Paragraphs of real prose from the pages, for the PDF and the 100k chunks. */
function proseOf(pages: readonly Page[]): string[] {
  return pages.flatMap((p) => p.markdown.split('\n\n')).filter((part) => !part.startsWith('#') && part.split(' ').length >= 12);
}

function textOfWords(prose: readonly string[], words: number): string {
  const out: string[] = [];
  let count = 0;
  while (count < words) {
    const paragraph = pick(prose);
    out.push(paragraph);
    count += paragraph.split(' ').length;
  }
  return out.join('\n\n');
}

type Runtime = Awaited<ReturnType<typeof startRuntime>>;

/** (a) recall@5 of the labelled questions, keywords alone and then hybrid. */
async function labelledSet(runtime: Runtime, keywordsOnly: KnowledgeService, pages: readonly Page[], generated: readonly Question[], written: readonly Question[], handWritten: number): Promise<void> {
  const questions = [...generated, ...written];
  const manuals = (await runtime.deps.experiences.create({ name: 'manuals', slug: 'manuals' })).id;
  const documents = new Map<string, number>();
  const ingestStarted = performance.now();
  for (const page of pages) {
    const bytes = new TextEncoder().encode(page.markdown);
    const added = await runtime.knowledge!.add(manuals, { name: `${page.page}.md`, mimeType: 'text/markdown', bytes }, 'bench');
    documents.set(page.page, added.id);
  }
  const manualsMs = performance.now() - ingestStarted;
  const status = await runtime.knowledge!.status(manuals);
  console.log(`# ${pages.length} manual pages (${status.chunks} chunks) added in ${(manualsMs / 1000).toFixed(1)} s; ${generated.length} questions from NAME lines, ${written.length} of ${handWritten} hand-written`);
  for (const q of generated.slice(0, 4)) console.log(`#   ${q.page}: ${q.question}`);
  figure('knowledge_pages', pages.length, 'pages', 0);
  figure('knowledge_questions', questions.length, 'questions', 0);
  const keywords = await recallAt5(keywordsOnly, manuals, questions, documents);
  figure('recall_at_5_keywords', keywords.recall, '', 3);
  figure('recall_at_5_keywords_generated', (await recallAt5(keywordsOnly, manuals, generated, documents)).recall, '', 3);
  figure('recall_at_5_keywords_handwritten', (await recallAt5(keywordsOnly, manuals, written, documents)).recall, '', 3);
  if (!(await waitForVectors(runtime.knowledge!, manuals))) throw new Error('the manual pages were not embedded in time');
  const hybrid = await recallAt5(runtime.knowledge!, manuals, questions, documents);
  figure('recall_at_5_hybrid', hybrid.recall, '', 3);
  figure('questions_with_meaning_source', hybrid.meaning, '', 3);
  // the vectors alone, below the floor too: what the stand-in embedder finds without keywords
  const nearest = requireSqlite(runtime.database, 'bench:knowledge').sqlite.prepare('SELECT v.document_id AS documentId FROM knowledge_vec v WHERE embedding MATCH ? AND k = 40 AND experience_id = ? ORDER BY distance');
  let vectorHits = 0;
  for (const q of questions) {
    const vector = Buffer.from(Float32Array.from(bagOfWords(q.question, EMBED_DIMENSION)).buffer);
    const top = [...new Set((nearest.all(vector, manuals) as Array<{ documentId: number }>).map((r) => r.documentId))].slice(0, TOP);
    if (top.includes(documents.get(q.page)!)) vectorHits++;
  }
  figure('recall_at_5_vectors_without_floor', vectorHits / questions.length, '', 3);
}

/** (b) a 500-page PDF from its bytes to status indexed, keywords only. */
async function pdfIngest(keywordsOnly: KnowledgeService, manual: number, pages: readonly Page[], prose: readonly string[]): Promise<void> {
  const pdfPages: PdfPage[] = Array.from({ length: PDF_PAGES }, (_, i) => ({
    heading: i % 5 === 0 ? `Chapter ${i / 5 + 1}: ${pick(pages).page}` : undefined,
    subheading: i % 5 === 2 ? `Section ${Math.floor(i / 5) + 1}.2` : undefined,
    paragraphs: textOfWords(prose, 300).split('\n\n').map((p) => p.slice(0, 1_400)),
  }));
  const pdf = await makePdf(pdfPages, 'Bench manual');
  // the PDF reader loads on the first PDF: a one-page one first, so the figure is the reading itself
  await keywordsOnly.add(manual, { name: 'warm-up.pdf', mimeType: 'application/pdf', bytes: await makePdf([{ paragraphs: [pick(prose)] }]) }, 'bench');
  const pdfStarted = performance.now();
  const added = await keywordsOnly.add(manual, { name: 'manual.pdf', mimeType: 'application/pdf', bytes: pdf }, 'bench');
  const pdfMs = performance.now() - pdfStarted;
  if (added.status !== 'indexed' || added.pageCount !== PDF_PAGES) throw new Error(`the PDF ended ${added.status} with ${added.pageCount} pages: ${added.error}`);
  console.log(`# ${PDF_PAGES}-page PDF, ${(pdf.length / 2 ** 20).toFixed(1)} MiB, ${added.chunkCount} chunks`);
  figure('ingest_500_pages_ms', pdfMs, 'ms', 0);
  figure('ingest_pages_per_second', PDF_PAGES / (pdfMs / 1000), 'pages/s', 1);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-bench-knowledge-'));
  const fake = await startFakeOpenAI({ embedder: bagOfWords, embeddingDimension: EMBED_DIMENSION });
  const base = loadConfig({ THREADLOOM_DATA_DIR: dir, OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: fake.url });
  const config = { ...base, search: { ...base.search, embeddingModel: 'openai/text-embedding-3-small', batchSize: 256, concurrency: 4, intervalMs: 200 } };
  const runtime = await startRuntime(config, { log: silentLogger });
  const { deps } = runtime;
  // the same database and store, without an embedding model: retrieval by keywords alone
  const keywordsOnly = createKnowledge({
    database: runtime.database, config: { ...config, search: { ...config.search, embeddingModel: null } },
    router: deps.router, prices: deps.prices, log: silentLogger, now: deps.now,
  });
  const experience = async (slug: string): Promise<number> => (await deps.experiences.create({ name: slug, slug })).id;

  // (a) the labelled set
  const handWritten = JSON.parse(readFileSync(path.join(ROOT, 'bench/knowledge-questions.json'), 'utf8')) as Question[];
  const pages = choosePages(handWritten.map((q) => q.page));
  const byDescription = new Map<string, number>();
  for (const p of pages) byDescription.set(p.description.toLowerCase(), (byDescription.get(p.description.toLowerCase()) ?? 0) + 1);
  const generated = pages
    .filter((p) => byDescription.get(p.description.toLowerCase()) === 1)
    .map((p) => ({ question: questionFor(p), page: p.page }))
    .filter((q): q is Question => q.question !== null);
  const written = handWritten.filter((q) => pages.some((p) => p.page === q.page));
  const questions = [...generated, ...written];
  if (!LATENCY_ONLY) await labelledSet(runtime, keywordsOnly, pages, generated, written, handWritten.length);

  // (b) a 500-page PDF, keywords only (the background indexer is stopped meanwhile)
  await runtime.knowledge!.indexer.stop();
  const prose = proseOf(pages).map((p) => p.replace(/[^\x20-\x7e]/g, ' '));
  if (!LATENCY_ONLY) await pdfIngest(keywordsOnly, await experience('manual-pdf'), pages, prose);

  // (c) 100,000 chunks in one Experience, through the repository
  const large = await experience('large');
  seed = 7; // the same 100k chunks whether or not (a) and (b) ran before
  const fillStarted = performance.now();
  const documentCount = CHUNKS / CHUNKS_PER_DOCUMENT;
  for (let first = 0; first < documentCount; first += DOCUMENTS_PER_TRANSACTION) {
    await deps.db.transaction().execute(async (trx) => {
      for (let d = first; d < Math.min(documentCount, first + DOCUMENTS_PER_TRANSACTION); d++) {
        const row = await insertDocument(trx, {
          experience_id: large, title: `Document ${d}`, file_name: `document-${d}.md`, format: 'markdown', mime_type: 'text/markdown',
          size_bytes: 0, page_count: null, source: 'upload', source_url: null, added_by: 'bench', status: 'indexed', error: null,
          content_hash: `bench-${d}`, text: null, blocks: null, chunk_count: CHUNKS_PER_DOCUMENT, indexed_at: new Date().toISOString(),
        });
        const chunks = Array.from({ length: CHUNKS_PER_DOCUMENT }, (_, ordinal) => {
          const text = textOfWords(prose, 120 + Math.floor(random() * 120));
          return { ordinal, text, pageStart: null, pageEnd: null, headings: [`Part ${ordinal}`], tokens: Math.ceil(text.length / 4) };
        });
        await replaceChunks(trx, row.id, chunks);
      }
    });
  }
  console.log(`# ${CHUNKS.toLocaleString('en')} chunks stored in ${((performance.now() - fillStarted) / 1000).toFixed(1)} s`);
  const asked = Array.from({ length: RETRIEVALS }, (_, i) => questions[i % questions.length]!.question);
  const timeRetrievals = async (knowledge: KnowledgeService): Promise<number[]> => {
    for (const q of asked.slice(0, 20)) await knowledge.retrieve(large, q, { maxTokens: 3_000 });
    const samples: number[] = [];
    for (const q of asked) {
      const started = performance.now();
      await knowledge.retrieve(large, q, { maxTokens: 3_000 });
      samples.push(performance.now() - started);
    }
    return samples;
  };
  const keywordTimes = summarise(await timeRetrievals(keywordsOnly));
  figure('retrieve_100k_median', keywordTimes.median, 'ms', 1);
  figure('retrieve_100k_p99', keywordTimes.p99, 'ms', 1);
  // of which the FTS5 stage alone (KnowledgeStore.keyword, the pool retrieve() asks for)
  const keywordStore = new KnowledgeStore(requireSqlite(runtime.database, 'bench:knowledge').sqlite);
  const ftsSamples: number[] = [];
  for (const q of asked) {
    const started = performance.now();
    await keywordStore.keyword(large, q, 40);
    ftsSamples.push(performance.now() - started);
  }
  const ftsTimes = summarise(ftsSamples);
  figure('keyword_stage_100k_median', ftsTimes.median, 'ms', 1);
  figure('keyword_stage_100k_p99', ftsTimes.p99, 'ms', 1);
  if (VECTORS_100K) {
    const embedStarted = performance.now();
    runtime.knowledge!.indexer.start();
    if (await waitForVectors(runtime.knowledge!, large)) {
      console.log(`# ${CHUNKS.toLocaleString('en')} chunks embedded by the fake in ${((performance.now() - embedStarted) / 1000).toFixed(1)} s`);
      const hybridTimes = summarise(await timeRetrievals(runtime.knowledge!));
      figure('retrieve_100k_hybrid_median', hybridTimes.median, 'ms', 1);
      figure('retrieve_100k_hybrid_p99', hybridTimes.p99, 'ms', 1);
    } else {
      console.log(`# the 100k chunks were not embedded within ${DRAIN_TIMEOUT_MS / 60_000} min: no hybrid latency`);
    }
  }

  await runtime.close();
  await fake.close();
  if (process.env.BENCH_KEEP) console.log(`# data kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

await main();
