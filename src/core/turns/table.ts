import type { Generated } from 'kysely';

/** Events already handled, by platform event id: a redelivered event is never answered twice. */
export interface ProcessedEventTable {
  platform: string;
  event_id: string;
  processed_at: Generated<string>;
}

/** One turn a user took, kept a minute: the per-user limit's window when instances share PostgreSQL. */
export interface TurnRateEventTable {
  user_key: string;
  /** ms since the epoch */
  at: number;
}
