import { modelIdSchema, slugSchema } from '../experiences/schema.js';
import { ThreadloomError } from '../errors.js';
import type { EngineDeps } from '../turns/deps.js';
import { chooseModel } from '../providers/model-choice.js';
import { UsageError, type CommandContext, type CommandSpec } from './types.js';
import { userKey } from '../identity.js';
import { bindChannel } from '../bindings/repository.js';

/**
 * Given in a channel where every question opens a thread of its own, a setting lands on the
 * channel's conversation, which nobody talks in: it is for the conversations started there next
 * (each new thread takes model and persona from it), and the reply says exactly that.
 */
function forNewThreads(ctx: CommandContext): boolean {
  // the reply of a slash command cannot open a thread itself, so ask the platform, not the reply
  return !ctx.inbound.isDirect && ctx.inbound.threadId === null && THREAD_PER_QUESTION.has(ctx.inbound.platform);
}

/** Platforms whose channels answer every question in a thread of its own (engine.threadPerMessage). */
const THREAD_PER_QUESTION = new Set(['discord', 'slack', 'matrix']);

export const MODEL: CommandSpec = {
  name: 'model',
  usage: 'model [provider/model | reset]',
  summary: "show or switch this conversation's model",
  private: true,
  async run(ctx) {
    const { deps } = ctx;
    const conversation = await ctx.conversation();
    const experience = await deps.experiences.getById(conversation.experience_id);
    const wanted = ctx.args[0];
    if (!wanted) {
      const choice = await chooseModel(deps, conversation, experience!);
      const fallbacks = choice.candidates.slice(1);
      await ctx.say(`Model: ${choice.modelId} (from ${choice.source})${fallbacks.length ? `; fallbacks: ${fallbacks.join(', ')}` : ''}.`);
      return;
    }
    if (wanted === 'reset') {
      await deps.conversations.update(conversation.id, { model_override: null });
      await ctx.say(forNewThreads(ctx) ? "New conversations in this channel use their Experience's model again." : 'Model override removed; this conversation uses its Experience again.');
      return;
    }
    const modelId = wanted.includes('/') ? wanted : await qualify(ctx.deps, wanted);
    if (!modelIdSchema.safeParse(modelId).success) throw new UsageError(`"${wanted}" is not a model id.`);
    const provider = modelId.slice(0, modelId.indexOf('/'));
    if (!deps.router.provider(provider)) {
      throw new ThreadloomError('invalid', `unknown provider ${provider}`, { userMessage: `No provider "${provider}" is configured. Configured: ${deps.router.providerNames.join(', ')}.` });
    }
    await deps.conversations.update(conversation.id, { model_override: modelId });
    await ctx.say(
      forNewThreads(ctx)
        ? `New conversations started in this channel will use ${modelId}; one already running keeps its model (use \`model\` inside its thread).`
        : `This conversation now uses ${modelId}.`,
    );
  },
};

/** `gpt-4o-mini` → `openai/gpt-4o-mini` when exactly one provider lists it. */
async function qualify(deps: EngineDeps, name: string): Promise<string> {
  const { models } = await deps.catalog.list();
  const matches = models.filter((m) => m.name === name);
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length > 1) throw new UsageError(`"${name}" exists on several providers: ${matches.map((m) => m.id).join(', ')}.`);
  throw new UsageError(`No provider lists a model called "${name}". See \`models\`.`);
}

export const MODELS: CommandSpec = {
  name: 'models',
  usage: 'models',
  summary: 'list the models the configured providers offer',
  private: true,
  async run(ctx) {
    const { models, unreachable } = await ctx.deps.catalog.list();
    const lines = models.slice(0, 50).map((m) => `${m.id}${m.contextLength ? ` · ${Math.round(m.contextLength / 1024)}k context` : ''}${m.vision ? ' · images' : ''}`);
    if (models.length > 50) lines.push(`… and ${models.length - 50} more`);
    for (const u of unreachable) lines.push(`(${u.provider} unreachable: ${u.error})`);
    await ctx.say(lines.length ? lines.join('\n') : 'No models found. Is a provider configured and running?');
  },
};

export const PERSONA: CommandSpec = {
  name: 'persona',
  usage: 'persona [experience-slug | text | reset]',
  summary: "show or change this conversation's persona",
  private: true,
  async run(ctx) {
    const { deps } = ctx;
    const conversation = await ctx.conversation();
    if (!ctx.rest) {
      const experience = await deps.experiences.getById(conversation.experience_id);
      await ctx.say(conversation.persona_override ? `Persona (custom): ${conversation.persona_override}` : `Persona: ${experience!.personaName} from the ${experience!.name} Experience.`);
      return;
    }
    if (ctx.rest === 'reset') {
      await deps.conversations.update(conversation.id, { persona_override: null });
      await ctx.say(forNewThreads(ctx) ? 'New conversations in this channel use the Experience persona again.' : 'Persona reset to the Experience default.');
      return;
    }
    const asSlug = slugSchema.safeParse(ctx.rest).success ? await deps.experiences.get(ctx.rest) : null;
    const persona = asSlug ? `You are ${asSlug.personaName}.\n\n${asSlug.systemPrompt}` : ctx.rest;
    await deps.conversations.update(conversation.id, { persona_override: persona });
    const what = asSlug ? `${asSlug.personaName} (from ${asSlug.slug})` : 'this custom persona';
    if (forNewThreads(ctx)) await ctx.say(`New conversations started in this channel will use ${what}; one already running keeps its persona.`);
    else await ctx.say(asSlug ? `Persona switched to ${what}.` : 'Custom persona set for this conversation.');
  },
};

export const EXPERIENCE: CommandSpec = {
  name: 'experience',
  usage: 'experience [list | use <slug> | show]',
  summary: 'list Experiences or switch this conversation to one',
  private: true,
  async run(ctx) {
    const { deps } = ctx;
    const [sub = 'show', slug] = ctx.args;
    if (sub === 'list') {
      const all = await deps.experiences.list();
      await ctx.say(all.map((e) => `\`${e.slug}\` — ${e.name}: ${e.description}`).join('\n') || 'No Experiences yet.');
      return;
    }
    const conversation = await ctx.conversation();
    if (sub === 'show') {
      const e = (await deps.experiences.getById(conversation.experience_id))!;
      await ctx.say(`${e.name} (\`${e.slug}\`, ${e.category}) — ${e.description}\nModel: ${e.model ?? `${deps.config.defaultModel} (default)`}; keeps ${e.contextPolicy.maxMessages} messages${e.contextPolicy.summarize ? ', summarises older ones' : ''}.`);
      return;
    }
    if (sub === 'use' && slug) {
      const e = await deps.experiences.require(slug);
      if (e.archivedAt) throw new UsageError(`"${slug}" is archived.`);
      if (forNewThreads(ctx)) {
        // new threads take the channel's binding: only that changes the Experience for what comes next here
        await ctx.say(`Switch inside a conversation's thread to change its Experience. For every new conversation in this channel, an admin can bind it: \`bind ${e.slug}\`.`);
        return;
      }
      await deps.conversations.update(conversation.id, { experience_id: e.id, persona_override: null });
      await ctx.say(`This conversation now uses the ${e.name} Experience.`);
      return;
    }
    throw new UsageError('');
  },
};

export const BIND: CommandSpec = {
  name: 'bind',
  usage: 'bind <experience-slug> [provider/model]',
  summary: 'bind this channel to an Experience (new conversations here use it)',
  admin: true,
  async run(ctx) {
    const [slug, model] = ctx.args;
    if (!slug) throw new UsageError('');
    if (model && !modelIdSchema.safeParse(model).success) throw new UsageError(`"${model}" is not a provider/model id.`);
    const { deps } = ctx;
    const experience = await deps.experiences.require(slug);
    const { platform, channelId } = ctx.inbound;
    await bindChannel(deps.db, { platform, channelId, experienceId: experience.id, modelOverride: model ?? null });
    await deps.db.insertInto('audit_log').values({ actor: userKey(platform, ctx.inbound.author.id), action: 'bind', target: `${platform}:${channelId}`, detail: JSON.stringify({ slug, model: model ?? null }) }).execute();
    await ctx.say(`This channel is now bound to ${experience.name}${model ? ` with ${model}` : ''}. New conversations here use it.`);
  },
};
