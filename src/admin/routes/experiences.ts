import multipart, { type MultipartFile } from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatBytes } from '../../core/format/figures.js';
import { ThreadloomError } from '../../core/errors.js';
import { experienceInputSchema } from '../../core/experiences/schema.js';
import { toSpec, type Experience } from '../../core/experiences/service.js';
import { BUILT_IN_TEMPLATES } from '../../core/experiences/templates.js';
import { audit } from '../audit.js';
import { listBindings, registerBindingRoutes } from '../bindings.js';
import type { AdminContext } from '../context.js';
import { errorsFromMessage, formValues, parseForm, readForm, type ExperienceFormValues, type FieldErrors } from '../experience-form.js';

/**
 * Experiences: list (archived on request), create from a template or blank, edit with messages
 * beside the fields, archive/unarchive, import/export JSON; channel bindings live on the edit page.
 */

type SlugParams = { Params: { slug: string } };

/** The largest Experience file an import reads (the paste form's body limit is 4 MB too). */
const MAX_IMPORT_BYTES = 4 * 1024 * 1024;
/** what an over-long file's field becomes, so the handler can say why */
const TOO_LARGE = Symbol('too large');

/**
 * The import's file, read as text into `body.file` beside the form's other fields (`_csrf`
 * included, so the CSRF check sees it); an Experience file is small, unlike a backup.
 */
async function readImportFile(this: FastifyRequest, part: MultipartFile): Promise<void> {
  const content = await part.toBuffer();
  (part as unknown as { value: string | typeof TOO_LARGE }).value = part.file.truncated ? TOO_LARGE : content.toString('utf8');
}

/** The JSON to import: the uploaded file's content when one was chosen, else the pasted text. */
function importedJson(body: Record<string, unknown>): { json: string; pasted: string } {
  const pasted = typeof body.json === 'string' ? body.json : '';
  if (body.file === TOO_LARGE) {
    throw new ThreadloomError('invalid', `import: the file is larger than ${formatBytes(MAX_IMPORT_BYTES)}, the most an import reads`);
  }
  // a file input left empty still sends an empty part
  return { json: typeof body.file === 'string' && body.file.trim() !== '' ? body.file : pasted, pasted };
}

export function registerExperienceRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const experiences = ctx.runtime.deps.experiences;
  const providers = () => ctx.runtime.deps.router.providerNames;

  async function listPage(request: FastifyRequest<{ Querystring: { archived?: string } }>, reply: FastifyReply, importState: { json: string; error: string } | null = null) {
    const showArchived = request.query.archived === '1';
    const list = await experiences.list({ includeArchived: showArchived });
    const templates = BUILT_IN_TEMPLATES.map((t) => ({ slug: t.slug, name: t.name, description: t.description ?? '' }));
    return reply.page('experiences', { title: 'Experiences', experiences: list, templates, showArchived, importJson: importState?.json ?? '', importError: importState?.error ?? null });
  }

  async function formPage(reply: FastifyReply, data: { mode: 'new' | 'edit'; values: ExperienceFormValues; errors: FieldErrors; experience?: Experience; template?: string }) {
    const bindings = data.experience ? await listBindings(ctx, data.experience.id) : [];
    const title = data.mode === 'new' ? 'New Experience' : `Edit ${data.experience!.name}`;
    if (Object.keys(data.errors).length) reply.code(422);
    return reply.page('experience-edit', {
      title,
      ...data,
      action: data.mode === 'new' ? '/experiences' : `/experiences/${encodeURIComponent(data.experience!.slug)}`,
      bindings,
      bindingErrors: {},
      providers: providers(),
      defaultModel: ctx.config.defaultModel,
      modelIds: await ctx.runtime.deps.catalog.knownIds(),
    });
  }

  /** The first free slug like `homelab`, `homelab-2`, … */
  async function freeSlug(base: string): Promise<string> {
    const taken = new Set((await experiences.list({ includeArchived: true })).map((e) => e.slug));
    if (!taken.has(base)) return base;
    for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
  }

  app.get<{ Querystring: { archived?: string } }>('/experiences', (request, reply) => listPage(request, reply));

  app.get<{ Querystring: { template?: string } }>('/experiences/new', async (request, reply) => {
    const templateSlug = request.query.template ?? '';
    const template = BUILT_IN_TEMPLATES.find((t) => t.slug === templateSlug);
    if (templateSlug && !template) throw new ThreadloomError('not_found', `no template "${templateSlug}"`);
    const base = template ?? { name: '', slug: 'new-experience' };
    const spec = experienceInputSchema.parse({ ...base, name: base.name || 'New Experience' });
    const values = formValues({ ...spec, slug: await freeSlug(spec.slug) });
    if (!template) values.name = '';
    return formPage(reply, { mode: 'new', values, errors: {}, template: templateSlug });
  });

  app.post('/experiences', async (request, reply) => {
    const values = readForm(request.body);
    const { input, errors } = parseForm(values, providers());
    if (!input) return formPage(reply, { mode: 'new', values, errors });
    let created: Experience;
    try {
      created = await experiences.create(input);
    } catch (err) {
      if (err instanceof ThreadloomError && err.code === 'invalid') return formPage(reply, { mode: 'new', values, errors: errorsFromMessage(err.message) });
      throw err;
    }
    await audit(ctx, request, 'experience.create', created.name, created.slug);
    request.session!.flash = `Created the Experience “${created.name}”.`;
    return reply.redirect('/experiences', 303);
  });

  app.get('/experiences/export.json', async (request, reply) => {
    const slug = (request.query as { slug?: string }).slug;
    const json = await experiences.exportJson(slug ? [slug] : undefined);
    reply.header('content-disposition', `attachment; filename="threadloom-experiences${slug ? `-${slug.replace(/[^a-z0-9-]/g, '')}` : ''}.json"`);
    return reply.type('application/json; charset=utf-8').send(json);
  });

  // the paste form posts urlencoded, the file form multipart: one route, registered where the multipart parser is
  app.register(async (imports) => {
    await imports.register(multipart, {
      attachFieldsToBody: 'keyValues',
      onFile: readImportFile,
      throwFileSizeLimit: false,
      limits: { fileSize: MAX_IMPORT_BYTES, files: 1, fields: 10, parts: 12 },
    });
    imports.post<{ Querystring: { archived?: string } }>('/experiences/import', { config: { upload: true } }, async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      let pasted = typeof body.json === 'string' ? body.json : '';
      try {
        const { json, pasted: text } = importedJson(body);
        pasted = text;
        const imported = await experiences.importJson(json, { replace: body.replace === 'on' });
        await audit(ctx, request, 'experience.import', imported.map((e) => e.slug).join(', '));
        request.session!.flash = `Imported ${imported.length} Experience${imported.length === 1 ? '' : 's'}: ${imported.map((e) => e.name).join(', ')}.`;
        return reply.redirect('/experiences', 303);
      } catch (err) {
        if (!(err instanceof ThreadloomError) || err.code !== 'invalid') throw err;
        reply.code(422);
        return listPage(request, reply, { json: pasted, error: err.message });
      }
    });
  });

  app.get<SlugParams>('/experiences/:slug', async (request, reply) => {
    const experience = await experiences.require(request.params.slug);
    return formPage(reply, { mode: 'edit', values: formValues(toSpec(experience)), errors: {}, experience });
  });

  app.post<SlugParams>('/experiences/:slug', async (request, reply) => {
    const experience = await experiences.require(request.params.slug);
    const values = readForm(request.body);
    const { input, errors } = parseForm(values, providers());
    if (!input) return formPage(reply, { mode: 'edit', values, errors, experience });
    let updated: Experience;
    try {
      // the form has no field for refusals: keep the stored ones
      updated = await experiences.update(experience.slug, { ...input, rules: { ...input.rules, refuse: experience.rules.refuse } });
    } catch (err) {
      if (err instanceof ThreadloomError && err.code === 'invalid') return formPage(reply, { mode: 'edit', values, errors: errorsFromMessage(err.message), experience });
      throw err;
    }
    await audit(ctx, request, 'experience.update', updated.slug === experience.slug ? null : `slug ${experience.slug} → ${updated.slug}`, updated.slug);
    request.session!.flash = `Saved “${updated.name}”.`;
    return reply.redirect(`/experiences/${encodeURIComponent(updated.slug)}`, 303);
  });

  for (const [verb, act] of [
    ['archive', (slug: string) => experiences.archive(slug)],
    ['unarchive', (slug: string) => experiences.unarchive(slug)],
  ] as const) {
    app.post<SlugParams>(`/experiences/:slug/${verb}`, async (request, reply) => {
      const experience = await act((await experiences.require(request.params.slug)).slug);
      await audit(ctx, request, `experience.${verb}`, null, experience.slug);
      if (request.isHtmx) return reply.partial('experience-row', { e: experience });
      request.session!.flash = `${verb === 'archive' ? 'Archived' : 'Restored'} “${experience.name}”.`;
      return reply.redirect('/experiences', 303);
    });
  }

  registerBindingRoutes(app, ctx);
}
