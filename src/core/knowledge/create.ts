import type { Config } from '../config.js';
import type { OpenedDatabase } from '../db/open.js';
import type { Logger } from '../log.js';
import type { PriceTable } from '../providers/pricing.js';
import type { ProviderRouter } from '../providers/router.js';
import { KnowledgeIndexer } from './indexer.js';
import { KnowledgeRetriever } from './retrieve.js';
import { KnowledgeService, type KnowledgeServiceOptions } from './service.js';
import { openKnowledgeIndex } from './open-index.js';

/**
 * The knowledge service as the runtime wires it: the conversation search's embedding model and
 * batching (`search.*`), so one model serves both and is configured once; on either database.
 * Not started here.
 */
export function createKnowledge(
  deps: { database: OpenedDatabase; config: Config; router: ProviderRouter; prices: PriceTable; log: Logger; now: () => Date },
  overrides: Pick<KnowledgeServiceOptions, 'extract' | 'chunk' | 'limits' | 'chunking'> = {},
): KnowledgeService {
  const { database, config, router, prices, log, now } = deps;
  const store = openKnowledgeIndex(database);
  const model = config.search.embeddingModel;
  const indexer = new KnowledgeIndexer({
    store, router, prices, db: database.db, log, now, model,
    batchSize: config.search.batchSize, concurrency: config.search.concurrency, intervalMs: config.search.intervalMs,
  });
  const retriever = new KnowledgeRetriever({ db: database.db, store, router, prices, log, model });
  return new KnowledgeService({ db: database.db, indexer, retriever, log, now, ...overrides });
}
