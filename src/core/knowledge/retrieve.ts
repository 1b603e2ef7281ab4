import { estimateTokens } from '../context/tokens.js';
import type { Db } from '../db/open.js';
import { ProviderError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PriceTable } from '../providers/pricing.js';
import type { ProviderRouter } from '../providers/router.js';
import { reciprocalRankFusion } from '../search/fuse.js';
import { MIN_MEANING_SIMILARITY } from '../search/service.js';
import { readJson } from '../json-column.js';
import { chunksWithDocuments } from './repository.js';
import type { KnowledgeIndex } from './knowledge-index.js';
import { recordEmbedding } from '../usage/embedding.js';

/**
 * How similar (cosine) a chunk must be to the question to count as found by meaning: the
 * conversation search's floor, for the same reason (below it a neighbour is only the least
 * unrelated text there is, and a source that is not about the question must not be cited).
 */
export const KNOWLEDGE_MIN_SIMILARITY = MIN_MEANING_SIMILARITY;
/** Chunks each method offers to the fusion. */
const POOL = 40;
/** Chunks of one document in the first pass; more only when nothing else is left. */
const PER_DOCUMENT_FIRST_PASS = 2;
/** a turn waits this long for its question's embedding, then goes on with keywords alone */
const QUERY_EMBED_TIMEOUT_MS = 10_000;

export type MatchedBy = 'keywords' | 'meaning';

/** A chunk as the prompt cites it: `[n] title, p. 3–4 › Heading`. */
export interface Source {
  /** 1-based number the answer cites */
  n: number;
  documentId: number;
  chunkId: number;
  title: string;
  fileName: string;
  pageStart: number | null;
  pageEnd: number | null;
  headings: string[];
  text: string;
  /** fused rank score: higher is better */
  score: number;
  matched: MatchedBy[];
}

export interface RetrieveOptions {
  /** tokens the sources may take in the prompt, headers included (the Experience sets it) */
  maxTokens: number;
  /** most sources; default 8 */
  limit?: number;
  /** who asked, for the usage ledger */
  asker?: { platform: string; userId: string };
}

export interface RetrieverOptions {
  db: Db;
  store: KnowledgeIndex;
  router: ProviderRouter;
  prices: PriceTable;
  log: Logger;
  /** the embedding model; null: keywords only */
  model: string | null;
}

/** `[2] Router manual (router.pdf), p. 3–4 › Network › VLANs` */
export function sourceHeader(source: Pick<Source, 'n' | 'title' | 'fileName' | 'pageStart' | 'pageEnd' | 'headings'>): string {
  const pages = source.pageStart === null ? '' : source.pageEnd !== null && source.pageEnd !== source.pageStart ? `, p. ${source.pageStart}–${source.pageEnd}` : `, p. ${source.pageStart}`;
  const file = source.fileName && source.fileName !== source.title ? ` (${source.fileName})` : '';
  // a document titled by its first heading would name it twice
  const path = source.headings[0] === source.title ? source.headings.slice(1) : source.headings;
  const headings = path.length ? ` › ${path.join(' › ')}` : '';
  return `[${source.n}] ${source.title}${file}${pages}${headings}`;
}

/** Sources as the prompt holds them: each header, then its text. */
export function formatSources(sources: readonly Source[]): string {
  return sources.map((s) => `${sourceHeader(s)}\n${s.text}`).join('\n\n');
}

/**
 * The best chunks of one Experience's knowledge for a question: FTS5 keywords and vector
 * neighbours (above the similarity floor) fused by reciprocal rank, at most two chunks per
 * document before any document gets a third, numbered, within a token budget. Nothing relevant:
 * an empty list, so the answer has no source to invent.
 */
export class KnowledgeRetriever {
  constructor(private readonly options: RetrieverOptions) {}

  /** Whether the Experience has any chunk to search: cheap, checked before anything else is done. */
  hasKnowledge(experienceId: number): Promise<boolean> {
    return this.options.store.hasChunks(experienceId);
  }

  async retrieve(experienceId: number, query: string, options: RetrieveOptions): Promise<Source[]> {
    const question = query.trim();
    const limit = options.limit ?? 8;
    if (!question || limit <= 0 || options.maxTokens <= 0) return [];
    const { store, db } = this.options;
    // an Experience without documents costs its turns nothing, not even the question's embedding
    if (!(await this.hasKnowledge(experienceId))) return [];
    const keyword = (await store.keyword(experienceId, question, POOL)).map((r) => r.chunkId);
    const meaning = await this.meaning(experienceId, question, options);
    const fused = reciprocalRankFusion([keyword, meaning]);
    if (!fused.length) return [];
    const rows = new Map((await chunksWithDocuments(db, experienceId, fused.map((f) => f.id))).map((r) => [r.id, r]));
    const ranked = fused.filter((f) => rows.has(f.id));

    const chosen = new Set<number>();
    const perDocument = new Map<number, number>();
    let spent = 0;
    const take = (pass: 'first' | 'fill'): void => {
      for (const { id } of ranked) {
        if (chosen.size >= limit) return;
        const row = rows.get(id)!;
        if (chosen.has(id)) continue;
        const count = perDocument.get(row.documentId) ?? 0;
        if (pass === 'first' && count >= PER_DOCUMENT_FIRST_PASS) continue;
        const headerTokens = estimateTokens(sourceHeader({ n: 99, title: row.title, fileName: row.fileName, pageStart: row.pageStart, pageEnd: row.pageEnd, headings: readJson(row.headings) }));
        const cost = Math.max(row.tokens, estimateTokens(row.text)) + headerTokens + 2;
        if (spent + cost > options.maxTokens) continue; // a shorter one further down may still fit
        spent += cost;
        chosen.add(id);
        perDocument.set(row.documentId, count + 1);
      }
    };
    take('first');
    take('fill');

    const keywordSet = new Set(keyword);
    const meaningSet = new Set(meaning);
    return ranked
      .filter((f) => chosen.has(f.id))
      .map((f, i) => {
        const row = rows.get(f.id)!;
        const matched: MatchedBy[] = [];
        if (keywordSet.has(f.id)) matched.push('keywords');
        if (meaningSet.has(f.id)) matched.push('meaning');
        return {
          n: i + 1, documentId: row.documentId, chunkId: f.id, title: row.title, fileName: row.fileName, pageStart: row.pageStart,
          pageEnd: row.pageEnd, headings: readJson(row.headings), text: row.text, score: f.score, matched,
        };
      });
  }

  /** Chunk ids near the question by meaning, above the floor; none when there is no vector index (yet). */
  private async meaning(experienceId: number, question: string, options: RetrieveOptions): Promise<number[]> {
    const { model, store, router, log } = this.options;
    const index = await store.state();
    if (!model || !index || index.model !== model || index.dimension === null || !(await store.vectorSupport()).ok) return [];
    const started = performance.now();
    const who = { experienceId, platform: options.asker?.platform ?? null, userId: options.asker?.userId ?? null };
    try {
      const outcome = await router.embed(model, [question], AbortSignal.timeout(QUERY_EMBED_TIMEOUT_MS));
      await recordEmbedding(this.options, { modelId: model, texts: [question], usage: outcome.usage, latencyMs: outcome.latencyMs, error: null, answered: true }, who, 'knowledge');
      const vector = Float32Array.from(outcome.vectors[0] ?? []);
      if (vector.length !== index.dimension) throw new ProviderError('malformed', `the question's embedding has ${vector.length} dimensions, the index ${index.dimension}`);
      return (await store.nearest(experienceId, vector, POOL)).filter((r) => 1 - r.score >= KNOWLEDGE_MIN_SIMILARITY).map((r) => r.chunkId);
    } catch (err) {
      const error = err instanceof ProviderError ? err : new ProviderError('malformed', String(err), { cause: err });
      await recordEmbedding(this.options, { modelId: model, texts: [question], usage: null, latencyMs: Math.round(performance.now() - started), error, answered: false }, who, 'knowledge');
      log.warn(`knowledge: could not embed the question with ${model}: ${error.message}; keywords only`);
      return [];
    }
  }
}
