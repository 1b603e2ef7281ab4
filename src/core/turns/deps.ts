import type { BudgetService } from '../budgets/service.js';
import type { Config } from '../config.js';
import type { ConversationService } from '../conversations/service.js';
import type { Db } from '../db/open.js';
import type { ExperienceService } from '../experiences/service.js';
import type { KnowledgeService } from '../knowledge/service.js';
import type { Logger } from '../log.js';
import type { ModelCatalog } from '../providers/catalog.js';
import type { PriceTable } from '../providers/pricing.js';
import type { ProviderRouter } from '../providers/router.js';
import type { SearchService } from '../search/service.js';
import type { ApprovalDesk } from '../tools/approvals.js';
import type { ToolRegistry } from '../tools/registry.js';

/** Everything a turn needs, built once in main.ts (or a test) and shared. */
export interface EngineDeps {
  db: Db;
  config: Config;
  router: ProviderRouter;
  catalog: ModelCatalog;
  prices: PriceTable;
  experiences: ExperienceService;
  conversations: ConversationService;
  log: Logger;
  now: () => Date;
  /** spending limits; absent (as in tests that build deps by hand), turns are not checked */
  budgets?: BudgetService;
  /** search over stored messages; absent (tests that build deps by hand), `search` says so */
  search?: SearchService;
  /** the tools Experiences may offer; absent, no turn offers any */
  tools?: ToolRegistry;
  /** where `confirm` tools wait for a person's yes; absent, they are not run */
  approvals?: ApprovalDesk;
  /** each Experience's documents, retrieved as numbered sources; absent (tests that build deps by hand), none */
  knowledge?: KnowledgeService;
  /**
   * This instance's name when several share PostgreSQL: events it claims carry it until handled,
   * so the instance taking a platform over can answer again what a dead one left unfinished.
   * Absent (SQLite, one instance), claims carry no name.
   */
  claimant?: string;
}
