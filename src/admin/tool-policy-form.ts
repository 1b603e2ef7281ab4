import type { Experience } from '../core/experiences/service.js';
import { toolPolicySchema, type ToolPolicy } from '../core/tools/policy.js';
import type { ToolDefinition, ToolMode } from '../core/tools/types.js';

/**
 * An Experience's tool policy as the Tools page's form sends it: `sources` (a checkbox each),
 * `mode.<tool>` ('' for the default, or auto/confirm/off) and the four limits. Modes of tools not
 * on the form (a server that is down now) are kept as they were.
 */

export const POLICY_NUMBERS = ['maxRounds', 'timeoutMs', 'approvalTimeoutMs', 'resultMaxChars'] as const;
export type PolicyNumber = (typeof POLICY_NUMBERS)[number];
export type PolicyErrors = Partial<Record<PolicyNumber | 'sources' | 'form', string>>;

const MODES: readonly ToolMode[] = ['auto', 'confirm', 'off'];

/** Every string in a field that may be repeated. */
function all(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

/** The policy the form asks for, or a message per field. `shown` are the tools the form had a select for. */
export function readPolicyForm(body: unknown, current: ToolPolicy, shown: readonly ToolDefinition[]): { policy: ToolPolicy | null; errors: PolicyErrors; values: Record<PolicyNumber, string> } {
  const raw = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const values = Object.fromEntries(POLICY_NUMBERS.map((k) => [k, typeof raw[k] === 'string' ? raw[k].trim() : ''])) as Record<PolicyNumber, string>;
  const modes: Record<string, ToolMode> = { ...current.modes };
  for (const tool of shown) {
    const chosen = raw[`mode.${tool.name}`];
    if (typeof chosen === 'string' && (MODES as readonly string[]).includes(chosen)) modes[tool.name] = chosen as ToolMode;
    else delete modes[tool.name];
  }
  const candidate: Record<string, unknown> = { sources: [...new Set(all(raw.sources))], modes };
  const errors: PolicyErrors = {};
  for (const key of POLICY_NUMBERS) {
    if (values[key] === '') continue;
    if (!/^\d+$/.test(values[key])) errors[key] = 'a whole number, or empty for the default';
    else candidate[key] = Number(values[key]);
  }
  const parsed = toolPolicySchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? 'form');
      const field = ((POLICY_NUMBERS as readonly string[]).includes(key) || key === 'sources' ? key : 'form') as keyof PolicyErrors;
      errors[field] ??= issue.message;
    }
  }
  if (!parsed.success || Object.keys(errors).length) return { policy: null, errors, values };
  return { policy: parsed.data, errors, values };
}

export function policyValues(policy: ToolPolicy): Record<PolicyNumber, string> {
  return Object.fromEntries(POLICY_NUMBERS.map((k) => [k, String(policy[k])])) as Record<PolicyNumber, string>;
}

/** What changed, for the audit log. */
export function policyChanges(before: Experience['tools'], after: ToolPolicy): string {
  const out: string[] = [];
  const on = after.sources.filter((s) => !before.sources.includes(s));
  const off = before.sources.filter((s) => !after.sources.includes(s));
  if (on.length) out.push(`on: ${on.join(', ')}`);
  if (off.length) out.push(`off: ${off.join(', ')}`);
  for (const name of new Set([...Object.keys(before.modes), ...Object.keys(after.modes)])) {
    if (before.modes[name] !== after.modes[name]) out.push(`${name} ${after.modes[name] ?? 'default'}`);
  }
  for (const key of POLICY_NUMBERS) if (before[key] !== after[key]) out.push(`${key} ${after[key]}`);
  return out.join('; ') || 'no change';
}
