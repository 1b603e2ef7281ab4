import type { Config } from '../config.js';
import type { OpenedDatabase } from '../db/open.js';
import type { Logger } from '../log.js';
import type { PriceTable } from '../providers/pricing.js';
import type { ProviderRouter } from '../providers/router.js';
import { SearchIndexer } from './indexer.js';
import { openSearchIndex } from './open-index.js';
import { SearchService } from './service.js';

/** The conversation search as the runtime wires it, on either database. Not started here. */
export function createSearch(deps: { database: OpenedDatabase; config: Config; router: ProviderRouter; prices: PriceTable; log: Logger; now: () => Date }): SearchService {
  const { database, config, router, prices, log, now } = deps;
  const store = openSearchIndex(database);
  const indexer = new SearchIndexer({
    store, router, prices, db: database.db, log, now,
    model: config.search.embeddingModel, batchSize: config.search.batchSize,
    concurrency: config.search.concurrency, intervalMs: config.search.intervalMs,
  });
  return new SearchService({ db: database.db, store, indexer, router, prices, log });
}
