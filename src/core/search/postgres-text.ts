import { sql, type RawBuilder } from 'kysely';

/**
 * Full text on PostgreSQL, for search and knowledge alike, over the tsvectors that migration 1100's
 * triggers keep in `message_words` and `knowledge_chunk_words` (GIN-indexed).
 *
 * The text search configuration is `english` (the triggers' `to_tsvector('english', …)`): on
 * SQLite both indexes are FTS5 with the `porter` tokenizer, so "snapshots" finds "snapshot" and
 * "pruning" finds "prune"; `english` stems with Snowball's English, Porter's successor. `simple`
 * would be language-neutral like unicode61 alone, but stem nothing, and a search that finds a
 * thread on SQLite would miss it here. Differences left: `english` drops stopwords ("the",
 * "over") that FTS5 keeps, and keeps diacritics that FTS5 folds (`remove_diacritics 2`).
 */
export const TEXT_SEARCH_CONFIG = 'english';

/**
 * The words as a tsquery, each quoted (no operators from users) and joined by AND or OR. Each
 * word is letters, digits and `_` only (queryWords), so it cannot close its quotes; one that
 * PostgreSQL splits ("error_code") becomes a phrase, as FTS5 makes it.
 */
export function textQuery(words: readonly string[], glue: 'AND' | 'OR'): RawBuilder<unknown> {
  const text = words.map((w) => `'${w}'`).join(glue === 'AND' ? ' & ' : ' | ');
  return sql`to_tsquery(${sql.lit(TEXT_SEARCH_CONFIG)}, ${text})`;
}

/**
 * Higher is better in ts_rank_cd; lower is better in bm25 and in what the stores return, so the
 * rank is negated. Normalization 1 divides by 1 + log(length): a long text that says a word once
 * ranks below a short one that is about it, as bm25's length normalization does.
 */
export function keywordScore(words: string, query: RawBuilder<unknown>): RawBuilder<number> {
  return sql<number>`-ts_rank_cd(${sql.raw(words)}, ${query}, 1)`;
}
