import type { ToolSpec } from '../providers/types.js';

/**
 * Tools: what the model may call during a turn. One registry gathers them from sources (the
 * built-in tools, each MCP server); the Experience's policy decides which are on and which need
 * a person's approval; the turn's loop runs them and stores calls and results in the tree.
 */

/** Where a tool comes from: `builtin`, or the name of a configured MCP server. */
export type ToolSourceName = string;

export const BUILTIN_SOURCE: ToolSourceName = 'builtin';

export interface ToolDefinition extends ToolSpec {
  /**
   * What people see: `current_time`, `proxmox › list_vms`. `name` is what the model sees,
   * unique across sources (`proxmox__list_vms`).
   */
  title: string;
  source: ToolSourceName;
  /** the tool's own name at its source (an MCP server's tool name) */
  sourceName: string;
  /**
   * The tool only reads (MCP's `readOnlyHint`, or a built-in that changes nothing). A tool not
   * known to be read-only needs approval unless the Experience says otherwise.
   */
  readOnly: boolean;
}

/** Who asked, where: a tool that reads data (search) answers with this user's rights. */
export interface ToolCaller {
  platform: string;
  userId: string;
  userName: string;
  conversationId: number;
  experienceId: number;
  /** whether the caller is an admin of Threadloom */
  admin: boolean;
  /** the conversation is a direct message: what the answer says, only the caller reads (absent: it is not) */
  isDirect?: boolean;
}

export interface ToolCallContext {
  caller: ToolCaller;
  /** aborted by Stop, by the tool's timeout, or by a shutdown */
  signal: AbortSignal;
  /** a long-running tool's progress, for the line shown while it runs */
  onProgress?: (message: string) => void;
}

/** What a tool returned, as text for the model. Untrusted: never rendered as markup. */
export interface ToolOutput {
  text: string;
  /** the tool failed; the text says why, for the model */
  isError: boolean;
}

/** A place tools come from: the built-ins, or one MCP server. */
export interface ToolSource {
  readonly name: ToolSourceName;
  /** the tools offered now; an MCP server that is down offers none */
  tools(): ToolDefinition[];
  /**
   * Runs one tool. Rejects only for a bug; a tool that fails, times out or is cut resolves with
   * `isError: true` and a line the model can read.
   */
  call(tool: ToolDefinition, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolOutput>;
  /** tells `listener` when the list of tools changed; returns the unsubscribe */
  onToolsChanged?(listener: () => void): () => void;
}

/** Per tool, per Experience: run it, ask first, or never offer it. */
export type ToolMode = 'auto' | 'confirm' | 'off';
