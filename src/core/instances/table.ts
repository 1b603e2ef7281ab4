import type { Generated } from 'kysely';

/** Who holds what, until when (ms since the epoch, the database's clock). */
export interface LeaseTable {
  name: string;
  holder: string;
  expires_at: number;
  /** when this holder took it (a renewal keeps it): takeovers are timed from it */
  since: number;
}

/** How many times each kind of admin change was saved: instances reload what another one changed. */
export interface SharedChangeTable {
  topic: string;
  version: number;
}

/** What a one-holder platform (Matrix) keeps for the next holder of its lease: bytes by name. */
export interface PlatformStateTable {
  name: string;
  content: Buffer;
  /** the instance that wrote it last */
  written_by: string;
  updated_at: Generated<string>;
}
