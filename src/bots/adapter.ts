/**
 * The contract between a chat platform and the core. The shapes themselves live in the core
 * (src/core/inbound.ts) because the engine speaks them; this is what each adapter implements.
 */
export type {
  ActionName,
  Attachment,
  Author,
  Inbound,
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

export interface ChatAdapter {
  readonly platform: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): AdapterStatus;
}
