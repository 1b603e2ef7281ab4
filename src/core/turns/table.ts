import type { Generated } from 'kysely';

/** Events already handled, by platform event id: a redelivered event is never answered twice. */
export interface ProcessedEventTable {
  platform: string;
  event_id: string;
  processed_at: Generated<string>;
  /**
   * The instance handling it while it is handled (PostgreSQL; null once handled, and on SQLite),
   * or RELEASED: given back by the instance that took the platform over from a dead claimant.
   */
  claimed_by: string | null;
}

/** One turn a user took, kept a minute: the per-user limit's window when instances share PostgreSQL. */
export interface TurnRateEventTable {
  user_key: string;
  /** ms since the epoch */
  at: number;
}
