import { BUDGET } from './budget.js';
import { KNOWLEDGE } from './knowledge.js';
import { APPROVE, BRANCH, DENY, FORK, NEW, REGEN, STOP, SUMMARY, EXPORT } from './conversation.js';
import { SEARCH } from './search.js';
import { BIND, EXPERIENCE, MODEL, MODELS, PERSONA } from './settings.js';
import { USAGE } from './usage.js';
import type { Platform } from '../inbound.js';
import type { CommandSpec } from './types.js';

/**
 * How help lists commands where people type them with a prefix and where some make no sense
 * (a terminal has one place, no channel to bind); elsewhere the bare names, all of them.
 */
const TYPED_COMMANDS: Partial<Record<Platform, { prefix: string; hidden: readonly string[] }>> = {
  console: { prefix: '/', hidden: ['bind'] },
};

/** The commands as the platform's people type them: `/model`, or `model` where no prefix applies. */
export function commandsAsTyped(platform: Platform): { typed(usage: string): string; commands: CommandSpec[] } {
  const style = TYPED_COMMANDS[platform];
  return {
    typed: (usage) => `${style?.prefix ?? ''}${usage}`,
    commands: COMMANDS.filter((c) => !style?.hidden.includes(c.name)),
  };
}

const HELP: CommandSpec = {
  name: 'help',
  usage: 'help [command]',
  summary: 'list the commands, or explain one',
  private: true,
  async run(ctx) {
    const { typed, commands } = commandsAsTyped(ctx.inbound.platform);
    const wanted = ctx.args[0] ? findCommand(ctx.args[0].replace(/^\//, '')) : undefined;
    if (wanted) {
      await ctx.say(`\`${typed(wanted.usage)}\` — ${wanted.summary}${wanted.admin ? ' (admins only)' : ''}`);
      return;
    }
    const lines = commands.map((c) => `\`${typed(c.usage)}\` — ${c.summary}${c.admin ? ' (admins)' : ''}`);
    await ctx.say(['Threadloom commands:', ...lines].join('\n'));
  },
};

/** The one command table every platform surfaces in its own way. */
export const COMMANDS: readonly CommandSpec[] = [MODEL, MODELS, PERSONA, EXPERIENCE, BIND, NEW, REGEN, BRANCH, FORK, SUMMARY, SEARCH, USAGE, BUDGET, EXPORT, STOP, APPROVE, DENY, KNOWLEDGE, HELP];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name.toLowerCase());
}
