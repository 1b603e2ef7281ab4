import type { Generated, Insertable, Selectable } from 'kysely';

/** The usage ledger: one append-only row per provider call, and the rollups its triggers keep. */

/** knowledge: embedding documents' chunks and the questions asked of them */
export type UsagePurpose = 'chat' | 'summary' | 'title' | 'embedding' | 'knowledge';
export type UsageStatus = 'ok' | 'fallback' | 'partial' | 'error';

export interface UsageEventTable {
  id: Generated<number>;
  created_at: Generated<string>;
  platform: string | null;
  user_id: string | null;
  experience_id: number | null;
  conversation_id: number | null;
  message_id: number | null;
  provider: string;
  model: string;
  purpose: UsagePurpose;
  tokens_in: number;
  tokens_out: number;
  estimated: number;
  cost_usd: number;
  latency_ms: number | null;
  ttft_ms: number | null;
  status: UsageStatus;
  error: string | null;
}

export type UsageEventRow = Selectable<UsageEventTable>;
export type NewUsageEventRow = Insertable<UsageEventTable>;

/**
 * Rollups of usage_events kept by triggers (migration 2026-11-22T0110): sums per day or month.
 * NULL platform, user and Experience are stored as '' and 0 (they are part of the key).
 */
interface UsageMeasures {
  events: number;
  /** events whose purpose is 'chat' */
  chat_turns: number;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
}

export interface UsageDayModelTable extends UsageMeasures {
  /** YYYY-MM-DD (UTC) */
  day: string;
  model: string;
}

export interface UsageDailyTable extends UsageMeasures {
  day: string;
  model: string;
  experience_id: number;
  platform: string;
}

export interface UsageMonthlyTable extends UsageMeasures {
  /** YYYY-MM (UTC) */
  month: string;
  model: string;
  experience_id: number;
  platform: string;
}

export interface UsageUserDailyTable extends UsageMeasures {
  day: string;
  platform: string;
  user_id: string;
}

export interface UsageUserMonthlyTable extends UsageMeasures {
  month: string;
  platform: string;
  user_id: string;
}

export interface UsageUserDetailTable extends UsageMeasures {
  day: string;
  platform: string;
  user_id: string;
  model: string;
  experience_id: number;
}

export interface UsageUserDetailMonthlyTable extends UsageMeasures {
  month: string;
  platform: string;
  user_id: string;
  model: string;
  experience_id: number;
}
