import { sql } from 'kysely';
import { estimateTokens } from '../../../src/core/context/tokens.js';
import type { Config } from '../../../src/core/config.js';
import { ThreadloomError } from '../../../src/core/errors.js';
import { createKnowledge } from '../../../src/core/knowledge/create.js';
import type { Chunker, Extractor, KnowledgeService } from '../../../src/core/knowledge/service.js';
import type { DocumentBlock, IncomingFile } from '../../../src/core/knowledge/types.js';
import { conceptEmbedder } from '../../fakes/providers/concepts.js';
import { startTestRuntime, type TestRuntime } from '../../support/runtime.js';
import { until } from '../../support/wait.js';

/**
 * A runtime over a real database (SQLite, or PostgreSQL with THREADLOOM_TEST_DATABASE_URL) with a knowledge service whose reader and chunker are small
 * stand-ins (the real ones are tested on their own): a file is UTF-8 text, `# Heading` lines
 * set the headings, `[page N]` lines the page, and each paragraph is one chunk.
 */

export const EMBEDDING_MODEL = 'openai/text-embedding-3-small';
/** concept groups of the fake embedder: words of one group mean the same thing */
export const GROUPS = [
  ['vlan', 'trunk', 'switch', 'tagged', 'network', 'port'],
  ['backup', 'restic', 'snapshot', 'retention', 'prune'],
  ['ups', 'battery', 'power', 'outage', 'runtime'],
];

export const readFake: Extractor = async (file) => {
  if (file.name.endsWith('.broken')) {
    throw new ThreadloomError('invalid', `${file.name}: bad header`, { userMessage: `"${file.name}" is damaged and could not be read.` });
  }
  const blocks: DocumentBlock[] = [];
  let page: number | null = null;
  let headings: string[] = [];
  for (const part of new TextDecoder().decode(file.bytes).split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean)) {
    const pageMark = /^\[page (\d+)\]$/.exec(part);
    if (pageMark) {
      page = Number(pageMark[1]);
      continue;
    }
    if (part.startsWith('# ')) {
      headings = [part.slice(2)];
      blocks.push({ text: part.slice(2), page, headings, kind: 'heading' });
      continue;
    }
    blocks.push({ text: part, page, headings, kind: 'paragraph' });
  }
  return { format: 'text', title: file.name.replace(/\.[^.]+$/, ''), blocks, pageCount: page, pagesWithoutText: [], notes: [] };
};

export const chunkFake: Chunker = (doc) =>
  doc.blocks
    .filter((b) => b.kind !== 'heading')
    .map((b, ordinal) => ({ ordinal, text: b.text, pageStart: b.page, pageEnd: b.page, headings: b.headings, tokens: estimateTokens(b.text) }));

export const file = (name: string, text: string): IncomingFile => ({ name, mimeType: 'text/plain', bytes: new TextEncoder().encode(text) });

export interface KnowledgeWorld {
  rt: TestRuntime;
  knowledge: KnowledgeService;
  /** two Experiences' ids */
  homelab: number;
  kitchen: number;
  /** texts the fake OpenAI was asked to embed, leaving out requests the client gave up on */
  embedded(): string[];
  /** rows in a table, or in the vec table (0 when it is not there) */
  count(table: string): Promise<number>;
  drained(experienceId?: number): Promise<void>;
  close(): Promise<void>;
}

export async function knowledgeWorld(options: { embedding: boolean; dir?: string; batchSize?: number } = { embedding: true }): Promise<KnowledgeWorld> {
  const withSearch = (c: Config): Config => ({
    ...c,
    search: { ...c.search, embeddingModel: options.embedding ? EMBEDDING_MODEL : null, batchSize: options.batchSize ?? 4, concurrency: 1, intervalMs: 30 },
  });
  const rt = await startTestRuntime({ dir: options.dir, config: withSearch, fakes: { openai: { embedder: conceptEmbedder(GROUPS), embeddingDimension: 16 } } });
  // the runtime's own service reads files with the real reader; this one with the stand-ins
  await rt.deps.knowledge?.indexer.stop();
  const knowledge = createKnowledge(
    { database: rt.database, config: rt.deps.config, router: rt.deps.router, prices: rt.deps.prices, log: rt.deps.log, now: rt.deps.now },
    { extract: readFake, chunk: chunkFake },
  );
  knowledge.indexer.start();
  const [first, second] = await rt.deps.experiences.list();
  const count = async (table: string): Promise<number> => {
    const exists = rt.database.kind === 'sqlite'
      ? rt.database.sqlite.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(table) !== undefined
      : (await sql<{ present: boolean }>`SELECT to_regclass(${table}) IS NOT NULL AS present`.execute(rt.database.db)).rows[0]!.present;
    return exists ? Number((await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(rt.database.db)).rows[0]!.n) : 0;
  };
  return {
    rt,
    knowledge,
    homelab: first!.id,
    kitchen: second!.id,
    embedded: () => rt.openai.requests.filter((r) => r.path.endsWith('/embeddings') && !r.disconnected).flatMap((r) => (r.body as { input: string[] }).input),
    count,
    drained: async (experienceId) => {
      await until(async () => {
        const status = await knowledge.status(experienceId);
        return status.waiting === 0 && status.embedded === status.chunks;
      });
    },
    close: async () => {
      await knowledge.indexer.stop();
      await rt.shutdown();
    },
  };
}
