import type { ConversationRow } from '../db/types.js';
import type { Engine } from '../engine.js';
import type { Inbound, PostOptions, Reply } from '../inbound.js';

export interface CommandContext {
  engine: Engine;
  inbound: Inbound;
  reply: Reply;
  /** whitespace-separated arguments */
  args: string[];
  /** everything after the command name, as typed */
  rest: string;
  isAdmin: boolean;
  /** the running conversation here, created if there is none yet */
  conversation(): Promise<ConversationRow>;
  /** the running conversation here, or null */
  existingConversation(): Promise<ConversationRow | null>;
  /** answers; settings answer privately (ephemeral) where the platform can */
  say(text: string, options?: PostOptions): Promise<void>;
}

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  /** only admins may run it */
  admin?: boolean;
  /** a setting change or personal info: answered privately where the platform can */
  private?: boolean;
  run(ctx: CommandContext): Promise<void>;
}

export class UsageError extends Error {}
