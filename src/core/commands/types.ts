import type { ConversationRow } from '../conversations/table.js';
import type { Inbound, PostOptions, Reply } from '../inbound.js';
import type { PlatformDirectory } from '../search/directory.js';
import type { EngineDeps } from '../turns/deps.js';

/** What a command may make the engine do for the person who typed it, and nothing more. */
export interface CommandActions {
  /** another answer beside `answerId`, under the same question */
  regenerate(answerId: number): Promise<void>;
  /** an answer to the user message `questionId` (when the last answer failed or never came) */
  answer(conversation: ConversationRow, questionId: number): Promise<void>;
  /** stops the answer being written in the conversation; false when none was */
  stop(conversationId: number): boolean;
  /** answers the newest tool approval waiting in the conversation; what to tell the person when not taken */
  answerApproval(conversationId: number, approve: boolean): string | null;
  /** who may read which channel on this platform, when its adapter registered one (search) */
  directory: PlatformDirectory | undefined;
}

/** What runs commands: the engine, seen through only what commands need. */
export interface CommandHost {
  isAdmin(inbound: Inbound): boolean;
  /** the running conversation of this place, created there if there is none */
  conversationFor(inbound: Inbound): Promise<ConversationRow>;
  actionsFor(inbound: Inbound, reply: Reply): CommandActions;
}

export interface CommandContext {
  deps: EngineDeps;
  actions: CommandActions;
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
