import { BUDGET } from './budget.js';
import { BRANCH, FORK, NEW, REGEN, STOP, SUMMARY, EXPORT } from './conversation.js';
import { SEARCH } from './search.js';
import { BIND, EXPERIENCE, MODEL, MODELS, PERSONA } from './settings.js';
import { USAGE } from './usage.js';
import type { CommandSpec } from './types.js';

const HELP: CommandSpec = {
  name: 'help',
  usage: 'help [command]',
  summary: 'list the commands, or explain one',
  private: true,
  async run(ctx) {
    const wanted = ctx.args[0] ? findCommand(ctx.args[0]) : undefined;
    if (wanted) {
      await ctx.say(`\`${wanted.usage}\` — ${wanted.summary}${wanted.admin ? ' (admins only)' : ''}`);
      return;
    }
    const lines = COMMANDS.map((c) => `\`${c.usage}\` — ${c.summary}${c.admin ? ' (admins)' : ''}`);
    await ctx.say(['Threadloom commands:', ...lines].join('\n'));
  },
};

/** The one command table every platform surfaces in its own way. */
export const COMMANDS: readonly CommandSpec[] = [MODEL, MODELS, PERSONA, EXPERIENCE, BIND, NEW, REGEN, BRANCH, FORK, SUMMARY, SEARCH, USAGE, BUDGET, EXPORT, STOP, HELP];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name.toLowerCase());
}
