import type { Generated } from 'kysely';

/** Events already handled, by platform event id: a redelivered event is never answered twice. */
export interface ProcessedEventTable {
  platform: string;
  event_id: string;
  processed_at: Generated<string>;
}
