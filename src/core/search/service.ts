import { sql } from 'kysely';
import type { MessageRole } from '../conversations/table.js';
import { isPostgres } from '../db/dialect.js';
import type { Db } from '../db/open.js';
import { ProviderError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PriceTable } from '../providers/pricing.js';
import type { ProviderRouter } from '../providers/router.js';
import type { TokenUsage } from '../providers/types.js';
import { reciprocalRankFusion } from './fuse.js';
import type { SearchIndexer } from './indexer.js';
import { snippetOf } from './snippet.js';
import type { SearchIndex, VectorFilter, VectorSupport } from './search-index.js';
import { recordEmbedding } from '../usage/embedding.js';
import { firstPlatformMessageIds } from '../conversations/platform-messages.js';

/** a search waits this long for its query's embedding, then answers with keywords alone */
const QUERY_EMBED_TIMEOUT_MS = 20_000;
/** How many nearest messages each method offers to the fusion. */
const POOL = 50;
/**
 * Candidates the bit-vector scan hands to exact re-scoring: the knob between recall and time
 * (`npm run bench:search` prints both).
 */
export const RESCORE_CANDIDATES = 256;
/**
 * How similar (cosine) a message must be to the query to count as found by meaning. Below it a
 * vector neighbour is only the least unrelated text there is: "bridge" once came back with 20
 * hits, 2 containing the word. Chosen from the shape of text embeddings that `bench/search.ts`
 * copies: ≈ 0.75 within a subtopic (a paraphrase), 0.5 within a topic, 0 across; the floor keeps
 * same-topic messages and drops the rest. In the fake concept embedder, a text sharing a concept
 * with the query scores ≥ 0.9 and one sharing none ≈ 0 (hash-axis noise).
 */
export const MIN_MEANING_SIMILARITY = 0.5;

export interface SearchHit {
  messageId: number;
  conversationId: number;
  title: string;
  experienceId: number;
  experienceName: string;
  platform: string;
  channelId: string;
  threadId: string;
  /** the platform's id for the message, when it was posted by or seen on a platform */
  platformMessageId: string | null;
  role: MessageRole;
  authorName: string | null;
  createdAt: string;
  snippet: string;
  /** why it matched: its words (FTS5), its meaning (similar at least MIN_MEANING_SIMILARITY), or both */
  matched: Array<'keywords' | 'meaning'>;
}

/** on: vectors searched; off: no embedding model; building: the index is not complete yet; failed: the query could not be embedded */
export type SemanticState = 'on' | 'off' | 'building' | 'failed';

export interface SearchResult {
  hits: SearchHit[];
  semantic: SemanticState;
  /** why semantic search did not take part */
  detail: string | null;
}

export interface SearchRequest {
  query: string;
  filter: VectorFilter;
  limit?: number;
  /** who asked, for the usage ledger */
  asker?: { platform: string; userId: string };
  /** at most one hit per conversation (chat: "which thread was it?"); default true */
  onePerConversation?: boolean;
}

export interface SearchServiceOptions {
  db: Db;
  store: SearchIndex;
  indexer: SearchIndexer;
  router: ProviderRouter;
  prices: PriceTable;
  log: Logger;
}

function within(row: { experienceId: number; platform: string; channelId: string; conversationId: number }, filter: VectorFilter): boolean {
  return (
    (!filter.experienceIds || filter.experienceIds.includes(row.experienceId)) &&
    (filter.platform === undefined || filter.platform === row.platform) &&
    (!filter.channelIds || filter.channelIds.includes(row.channelId)) &&
    (!filter.conversationIds || filter.conversationIds.includes(row.conversationId))
  );
}

/**
 * Hybrid search over stored messages: FTS5 keywords and vector similarity, merged by reciprocal
 * rank fusion, so an exact term (an error code, a host name) and a paraphrase both find their
 * message. A vector neighbour counts only above MIN_MEANING_SIMILARITY, and results are best
 * first, one per conversation unless asked otherwise. Filters (Experience, platform, channels, conversations) are applied inside both
 * searches, before anything is ranked: a hidden message can never push out nor fill a result.
 */
export class SearchService {
  constructor(private readonly options: SearchServiceOptions) {}

  get indexer(): SearchIndexer {
    return this.options.indexer;
  }

  /** Whether messages can be searched by meaning on this database (`doctor` and the start log say why not). */
  vectorSupport(): Promise<VectorSupport> {
    return this.options.store.vectorSupport();
  }

  async search(request: SearchRequest): Promise<SearchResult> {
    const { store } = this.options;
    const limit = request.limit ?? 5;
    const query = request.query.trim();
    if (!query) return { hits: [], semantic: 'off', detail: null };
    const keyword = (await store.keyword(query, request.filter, POOL)).map((r) => r.messageId);
    const semantic = await this.semantic(query, request);
    const fused = reciprocalRankFusion([keyword, semantic.ids]);
    const found = new Map<number, Set<'keywords' | 'meaning'>>();
    for (const id of keyword) found.set(id, new Set(['keywords']));
    for (const id of semantic.ids) (found.get(id) ?? found.set(id, new Set()).get(id)!).add('meaning');
    const hits = await this.hydrate(fused.map((f) => f.id), query, request.filter);
    const chosen: SearchHit[] = [];
    const conversations = new Set<number>();
    for (const hit of hits) {
      if (request.onePerConversation !== false) {
        if (conversations.has(hit.conversationId)) continue;
        conversations.add(hit.conversationId);
      }
      chosen.push({ ...hit, matched: [...(found.get(hit.messageId) ?? [])] });
      if (chosen.length >= limit) break;
    }
    return { hits: chosen, semantic: semantic.state, detail: semantic.detail };
  }

  private async semantic(query: string, request: SearchRequest): Promise<{ ids: number[]; state: SemanticState; detail: string | null }> {
    const { indexer, store, router, log } = this.options;
    const model = indexer.model;
    if (!model) return { ids: [], state: 'off', detail: 'no embedding model is configured (search.embeddingModel): keywords only' };
    const support = await store.vectorSupport();
    if (!support.ok) return { ids: [], state: 'off', detail: `${support.reason}: keywords only` };
    const index = await store.state();
    if (!index || index.model !== model || index.dimension === null) {
      return { ids: [], state: 'building', detail: 'the semantic index is still being built: keywords only for now' };
    }
    const started = performance.now();
    try {
      const outcome = await router.embed(model, [query], AbortSignal.timeout(QUERY_EMBED_TIMEOUT_MS));
      await this.record(query, request, outcome.usage, outcome.latencyMs, null);
      const vector = Float32Array.from(outcome.vectors[0] ?? []);
      if (vector.length !== index.dimension) throw new ProviderError('malformed', `the query's embedding has ${vector.length} dimensions, the index ${index.dimension}`);
      const ids = (await store.nearest(vector, request.filter, POOL, RESCORE_CANDIDATES))
        .filter((r) => 1 - r.score >= MIN_MEANING_SIMILARITY)
        .map((r) => r.messageId);
      const { queued } = await store.progress();
      return { ids, state: queued > 0 ? 'building' : 'on', detail: queued > 0 ? `${queued} messages are still waiting to be indexed` : null };
    } catch (err) {
      const error = err instanceof ProviderError ? err : new ProviderError('malformed', String(err), { cause: err });
      await this.record(query, request, null, Math.round(performance.now() - started), error);
      log.warn(`search: could not embed the query with ${model}: ${error.message}`);
      return { ids: [], state: 'failed', detail: `${model} could not embed the query (${error.userMessage}): keywords only` };
    }
  }

  private record(query: string, request: SearchRequest, usage: TokenUsage | null, latencyMs: number, error: ProviderError | null): Promise<void> {
    const experienceIds = request.filter.experienceIds;
    return recordEmbedding(this.options, { modelId: this.indexer.model!, texts: [query], usage, answered: error === null, latencyMs, error }, {
      platform: request.asker?.platform ?? null,
      userId: request.asker?.userId ?? null,
      experienceId: experienceIds?.length === 1 ? experienceIds[0]! : null,
    });
  }

  /**
   * The hits' details, in the order of `ids`, checked against the filter once more on the rows
   * themselves: whatever an index holds, nothing outside the scope is ever shown.
   */
  private async hydrate(ids: number[], query: string, filter: VectorFilter): Promise<Array<Omit<SearchHit, 'matched'>>> {
    if (!ids.length) return [];
    const rows = await this.options.db
      .selectFrom('messages as m')
      .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
      .innerJoin('experiences as e', 'e.id', 'c.experience_id')
      .select([
        'm.id as messageId', 'm.conversation_id as conversationId', 'm.role', 'm.author_name as authorName', 'm.content',
        'm.created_at as createdAt', 'c.title', 'c.experience_id as experienceId', 'e.name as experienceName',
        'c.platform', 'c.channel_id as channelId', 'c.thread_id as threadId',
      ])
      // one statement whatever the number of ids (SQLite's statement cache keeps it prepared)
      .where(isPostgres(this.options.db) ? sql<boolean>`m.id = ANY(${ids}::integer[])` : sql<boolean>`m.id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`)
      .execute();
    const links = await firstPlatformMessageIds(this.options.db, ids);
    const byId = new Map(rows.map((r) => [r.messageId, { ...r, platformMessageId: links.get(r.messageId) ?? null }]));
    return ids.flatMap((id) => {
      const row = byId.get(id);
      if (!row || !within(row, filter)) return [];
      const { content, title, ...rest } = row;
      return [{ ...rest, title: title ?? '(untitled)', platformMessageId: row.platformMessageId ?? null, snippet: snippetOf(content, query) }];
    });
  }
}
