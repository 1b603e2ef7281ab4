import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { BindingRow } from '../core/bindings/table.js';
import { modelIdSchema } from '../core/experiences/schema.js';
import { audit } from './audit.js';
import { providerProblem } from './model-ids.js';
import type { AdminContext } from './context.js';
import type { FieldErrors } from './experience-form.js';
import { bindChannel, bindingsOfExperience, unbind } from '../core/bindings/repository.js';

/**
 * Channel bindings of one Experience, on its edit page: new conversations in a bound channel
 * start with that Experience (and the binding's model, if it has one). One binding per channel.
 */

const bindingSchema = z.object({
  platform: z.string().trim().regex(/^[a-z][a-z0-9_-]*$/, 'a platform name such as discord, slack or matrix'),
  channelId: z.string().trim().min(1, 'the channel (or room) id is required').max(200),
  modelOverride: z.union([z.literal(''), modelIdSchema]).transform((v) => (v === '' ? null : v)),
});

export async function listBindings(ctx: AdminContext, experienceId: number): Promise<BindingRow[]> {
  return bindingsOfExperience(ctx.runtime.deps.db, experienceId);
}

type SlugParams = { Params: { slug: string } };

export function registerBindingRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const db = ctx.runtime.database.db;
  const experiences = ctx.runtime.deps.experiences;

  async function section(slug: string, bindingErrors: FieldErrors, bindingValues: Record<string, string> = {}) {
    const experience = await experiences.require(slug);
    return { experience, bindings: await listBindings(ctx, experience.id), bindingErrors, bindingValues, modelIds: await ctx.runtime.deps.catalog.knownIds() };
  }

  app.post<SlugParams>('/experiences/:slug/bindings', async (request, reply) => {
    const experience = await experiences.require(request.params.slug);
    const body = (request.body ?? {}) as Record<string, unknown>;
    const raw = { platform: String(body.platform ?? ''), channelId: String(body.channelId ?? ''), modelOverride: String(body.modelOverride ?? '').trim() };
    const parsed = bindingSchema.safeParse(raw);
    const unknownModel = raw.modelOverride ? providerProblem(raw.modelOverride, ctx.runtime.deps.router.providerNames) : null;
    if (!parsed.success || unknownModel) {
      const errors: FieldErrors = {};
      for (const issue of parsed.error?.issues ?? []) errors[String(issue.path[0])] ??= issue.message;
      if (unknownModel) errors.modelOverride ??= unknownModel;
      reply.code(422);
      const data = await section(experience.slug, errors, raw);
      return request.isHtmx ? reply.partial('experience-bindings', data) : reply.page('experience-bindings-alone', { title: `Bindings of ${experience.name}`, ...data });
    }
    const { platform, channelId, modelOverride } = parsed.data;
    await bindChannel(db, { platform, channelId, experienceId: experience.id, modelOverride });
    await audit(ctx, request, 'binding.add', `${platform}:${channelId}${modelOverride ? ` with ${modelOverride}` : ''}`, experience.slug);
    if (request.isHtmx) return reply.partial('experience-bindings', await section(experience.slug, {}));
    request.session!.flash = `Bound ${platform}:${channelId} to “${experience.name}”.`;
    return reply.redirect(`/experiences/${encodeURIComponent(experience.slug)}#bindings`, 303);
  });

  app.post<{ Params: { slug: string; id: string } }>('/experiences/:slug/bindings/:id/delete', async (request, reply) => {
    const experience = await experiences.require(request.params.slug);
    const removed = await unbind(db, Number(request.params.id), experience.id);
    if (removed) await audit(ctx, request, 'binding.remove', `${removed.platform}:${removed.channel_id}`, experience.slug);
    if (request.isHtmx) return reply.partial('experience-bindings', await section(experience.slug, {}));
    request.session!.flash = removed ? `Removed the binding of ${removed.platform}:${removed.channel_id}.` : 'That binding was already gone.';
    return reply.redirect(`/experiences/${encodeURIComponent(experience.slug)}#bindings`, 303);
  });
}
