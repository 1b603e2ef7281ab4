import { createHash } from 'node:crypto';

/** The providers' strictest rule for a tool name the model sees (see ToolSpec). */
export const MODEL_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX = 64;
const HASH_LENGTH = 8;

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, HASH_LENGTH);
}

/**
 * `<server>__<tool>` as a name every provider accepts: other characters become `_`, and a name
 * too long, or one that would clash with a name already `taken`, is cut and ends in a short hash
 * of the original, so it stays the same from one listing to the next.
 */
export function modelToolName(server: string, tool: string, taken: ReadonlySet<string>): string {
  const original = `${server}__${tool}`;
  const clean = original.replace(/[^a-zA-Z0-9_-]/g, '_');
  if (clean.length <= MAX && !taken.has(clean)) return clean;
  for (let salt = 0; ; salt++) {
    const hash = shortHash(salt === 0 ? original : `${original}#${salt}`);
    const name = `${clean.slice(0, MAX - HASH_LENGTH - 1)}_${hash}`;
    if (!taken.has(name)) return name;
  }
}

