import { z } from 'zod';
import type { ToolDefinition, ToolMode } from './types.js';

export const DEFAULT_MAX_TOOL_ROUNDS = 8;
export const DEFAULT_TOOL_RESULT_CHARS = 16_000;
export const DEFAULT_TOOL_TIMEOUT_MS = 60_000;
export const DEFAULT_APPROVAL_TIMEOUT_MS = 120_000;

/**
 * What an Experience lets its model call. Nothing is on by default: an Experience names the
 * sources it uses (`builtin`, MCP server names); every tool of those sources is offered, read-only
 * ones running on their own and the rest asking first, unless `modes` says otherwise per tool.
 */
export const toolPolicySchema = z.strictObject({
  /** `builtin` and the names of MCP servers whose tools this Experience offers */
  sources: z.array(z.string().min(1).max(64)).max(50).default([]),
  /** per tool, by the name the model sees (`current_time`, `proxmox__reboot_vm`) */
  modes: z.record(z.string().min(1).max(64), z.enum(['auto', 'confirm', 'off'])).default({}),
  /** model → tools → model rounds in one turn before it is stopped */
  maxRounds: z.number().int().min(1).max(32).default(DEFAULT_MAX_TOOL_ROUNDS),
  /** a longer result is cut, and the model told so */
  resultMaxChars: z.number().int().min(500).max(200_000).default(DEFAULT_TOOL_RESULT_CHARS),
  /** one tool call, before it is cut */
  timeoutMs: z.number().int().min(1_000).max(600_000).default(DEFAULT_TOOL_TIMEOUT_MS),
  /** no answer to an approval request within this long is a denial */
  approvalTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(DEFAULT_APPROVAL_TIMEOUT_MS),
});

export type ToolPolicy = z.output<typeof toolPolicySchema>;

export const NO_TOOLS: ToolPolicy = toolPolicySchema.parse({});

/** A stored policy, read leniently: what does not parse turns tools off rather than failing turns. */
export function readToolPolicy(stored: unknown): ToolPolicy {
  const parsed = toolPolicySchema.safeParse(stored ?? {});
  return parsed.success ? parsed.data : NO_TOOLS;
}

/** How this Experience treats a tool: its own mode, else read-only tools run and others ask. */
export function toolMode(policy: ToolPolicy, tool: ToolDefinition): ToolMode {
  if (!policy.sources.includes(tool.source)) return 'off';
  return policy.modes[tool.name] ?? (tool.readOnly ? 'auto' : 'confirm');
}
