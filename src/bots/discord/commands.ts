import { SlashCommandBuilder, type Attachment as DiscordAttachment, type AutocompleteInteraction, type ChatInputCommandInteraction } from 'discord.js';
import { COMMANDS } from '../../core/commands/table.js';
import type { ChatEngine } from '../../core/inbound.js';

interface OptionSpec {
  name: string;
  description: string;
  required?: boolean;
  autocomplete?: 'model' | 'experience';
  choices?: string[];
  /** goes first in the argument string, whatever its place among the options */
  leading?: boolean;
  /** a file the user attaches to the command, not text: it travels as the inbound's attachment */
  attachment?: boolean;
}

/**
 * Native options for the core commands; their values, in this order, become the command's
 * argument string, so the core parses one syntax on every platform.
 */
const OPTIONS: Record<string, OptionSpec[]> = {
  model: [{ name: 'model', description: 'provider/model, or reset', autocomplete: 'model' }],
  persona: [{ name: 'persona', description: 'an Experience slug, your own persona text, or reset' }],
  experience: [
    { name: 'action', description: 'what to do', choices: ['show', 'list', 'use'] },
    { name: 'experience', description: 'the Experience to use', autocomplete: 'experience' },
  ],
  bind: [
    { name: 'experience', description: 'the Experience for this channel', required: true, autocomplete: 'experience' },
    { name: 'model', description: 'a model for this channel only', autocomplete: 'model' },
  ],
  branch: [{ name: 'to', description: 'list, next, prev, or a branch number' }],
  // Discord wants required options first; the core reads `all <query>`, so scope leads the arguments
  search: [
    { name: 'query', description: 'words or a question', required: true },
    { name: 'scope', description: 'all: every Experience you can see (default: this one)', choices: ['all'], leading: true },
  ],
  export: [{ name: 'format', description: 'file format', choices: ['markdown', 'json'] }],
  help: [{ name: 'command', description: 'a command to explain', choices: COMMANDS.map((c) => c.name) }],
  // free text, parsed by the core: `set <who> daily tokens 50000`, `override <who> usd 2 for 24h`, an identity
  budget: [{ name: 'args', description: 'empty, platform:userId, set <who> <period> <unit> <n|none|default>, or override … for <h>h' }],
  knowledge: [
    { name: 'action', description: 'what to do', choices: ['list', 'add', 'remove'] },
    { name: 'number', description: 'the document to remove (knowledge lists them)' },
    { name: 'file', description: 'a document to add (PDF, Word, Markdown, HTML, text, CSV)', attachment: true },
  ],
};

/** The application commands, one per core command. */
export function commandDefinitions() {
  return COMMANDS.map((spec) => {
    const builder = new SlashCommandBuilder().setName(spec.name).setDescription(spec.summary.slice(0, 100));
    for (const option of OPTIONS[spec.name] ?? []) {
      if (option.attachment) {
        builder.addAttachmentOption((o) => o.setName(option.name).setDescription(option.description).setRequired(option.required ?? false));
        continue;
      }
      builder.addStringOption((o) => {
        o.setName(option.name).setDescription(option.description).setRequired(option.required ?? false);
        if (option.autocomplete) o.setAutocomplete(true);
        if (option.choices) o.addChoices(...option.choices.map((c) => ({ name: c, value: c })));
        return o;
      });
    }
    return builder.toJSON();
  });
}

export function argsFromOptions(interaction: ChatInputCommandInteraction): string {
  const options = (OPTIONS[interaction.commandName] ?? []).filter((o) => !o.attachment);
  return [...options.filter((o) => o.leading), ...options.filter((o) => !o.leading)]
    .map((option) => interaction.options.getString(option.name)?.trim() ?? '')
    .filter((value) => value !== '')
    .join(' ');
}

/** The files attached to a command's options, as discord.js gives them. */
export function optionAttachments(interaction: ChatInputCommandInteraction): DiscordAttachment[] {
  return (OPTIONS[interaction.commandName] ?? [])
    .filter((o) => o.attachment)
    .map((o) => interaction.options.getAttachment(o.name))
    .filter((a): a is DiscordAttachment => a !== null);
}

const MAX_CHOICES = 25;
const MODEL_LIST_TTL_MS = 60_000;

/** Suggestions for `/model` and `/experience`: only what exists now. */
export class Autocomplete {
  private models: { ids: string[]; at: number } | null = null;

  constructor(private readonly engine: ChatEngine) {}

  async respond(interaction: AutocompleteInteraction): Promise<void> {
    const focused = interaction.options.getFocused(true);
    const kind = OPTIONS[interaction.commandName]?.find((o) => o.name === focused.name)?.autocomplete;
    const typed = focused.value.toLowerCase();
    let values: string[] = [];
    if (kind === 'model') values = await this.modelIds();
    if (kind === 'experience') values = await this.engine.suggestions('experience');
    const matches = values.filter((v) => v.toLowerCase().includes(typed)).slice(0, MAX_CHOICES);
    await interaction.respond(matches.map((v) => ({ name: v.slice(0, 100), value: v.slice(0, 100) })));
  }

  private async modelIds(): Promise<string[]> {
    if (this.models && Date.now() - this.models.at < MODEL_LIST_TTL_MS) return this.models.ids;
    this.models = { ids: await this.engine.suggestions('model'), at: Date.now() };
    return this.models.ids;
  }
}
