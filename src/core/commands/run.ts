import { ThreadloomError } from '../errors.js';
import type { Inbound, Reply } from '../inbound.js';
import type { EngineDeps } from '../turns/deps.js';
import { findConversationFor } from '../turns/places.js';
import { commandsAsTyped, findCommand } from './table.js';
import { UsageError, type CommandContext, type CommandHost } from './types.js';

/** `prefix name args` → { name, args }, or null when the text is not a command. */
export function parseCommandText(text: string, prefix: string): { name: string; args: string } | null {
  const trimmed = text.trim();
  if (!trimmed.startsWith(prefix)) return null;
  const body = trimmed.slice(prefix.length).trim();
  const match = /^(\S+)\s*([\s\S]*)$/.exec(body);
  return match ? { name: match[1]!.toLowerCase(), args: match[2]!.trim() } : null;
}

export async function runCommand(host: CommandHost, deps: EngineDeps, inbound: Inbound, reply: Reply): Promise<void> {
  const name = inbound.command?.name ?? '';
  const rest = inbound.command?.args ?? '';
  const spec = findCommand(name);
  if (!spec) {
    const { typed, commands } = commandsAsTyped(inbound.platform);
    await reply.post(`Unknown command "${name}". Commands: ${commands.map((c) => typed(c.name)).join(', ')}. Try \`${typed('help')}\`.`, { private: true });
    return;
  }
  const isAdmin = host.isAdmin(inbound);
  if (spec.admin && !isAdmin) {
    await reply.post(`Only Threadloom admins can use \`${spec.name}\`.`, { private: true });
    return;
  }
  const ctx: CommandContext = {
    deps,
    actions: host.actionsFor(inbound, reply),
    inbound,
    reply,
    rest,
    args: rest ? rest.split(/\s+/) : [],
    isAdmin,
    existingConversation: () => findConversationFor(deps, inbound),
    conversation: () => host.conversationFor(inbound),
    say: async (text, options) => {
      await reply.post(text, { private: spec.private, ...options });
    },
  };
  try {
    await spec.run(ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      await reply.post(`${err.message ? `${err.message}\n` : ''}Usage: ${commandsAsTyped(inbound.platform).typed(spec.usage)}`, { private: true });
      return;
    }
    if (err instanceof ThreadloomError) throw err;
    throw new ThreadloomError('invalid', `command ${spec.name} failed: ${String(err)}`, { cause: err, userMessage: `\`${spec.name}\` failed; nothing was changed.` });
  }
}
