import type { PlatformStateStore } from '../core/instances/platform-state.js';
import type { Config } from '../core/config.js';
import type { ChatEngine } from '../core/inbound.js';
import type { Logger } from '../core/log.js';
import type { PlatformDirectory } from '../core/search/directory.js';

/**
 * The contract between a chat platform and the core. The shapes themselves live in the core
 * (src/core/inbound.ts) because the engine speaks them; this is what each adapter implements.
 */
export type {
  ActionName,
  Admission,
  Attachment,
  Author,
  ChatEngine,
  Inbound,
  InboundPlace,
  MarkdownDialect,
  Platform,
  PostOptions,
  Reply,
  ReplyButton,
  ReplyCapabilities,
} from '../core/inbound.js';

export interface AdapterStatus {
  connected: boolean;
  /** why not, or what it is connected as */
  detail: string;
}

/** What an adapter is given: the engine's narrow face, its config and where to log. */
export interface AdapterContext {
  engine: ChatEngine;
  config: Config;
  log: Logger;
  /**
   * When several instances share PostgreSQL: what a platform held by one instance at a time
   * keeps for the next holder (fenced by the platform's lease). Absent: the data dir.
   */
  sharedState?: (platform: string) => PlatformStateStore;
}

export interface ChatAdapter {
  readonly platform: string;
  /** optional capability: who may read which channel (search); the runtime registers it after start */
  readonly directory?: PlatformDirectory;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): AdapterStatus;
}
