import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { providerOrigin } from '../../core/config.js';
import { CONNECTION_KINDS, connectionFormValues, DEFAULT_BASE_URL, parseConnectionForm, readConnectionForm, type ConnectionErrors, type ConnectionForm, type ConnectionInput } from '../../core/connections/form.js';
import type { ConnectionView, TestResult } from '../../core/connections/service.js';
import { ThreadloomError } from '../../core/errors.js';
import { audit } from '../audit.js';
import type { AdminContext } from '../context.js';
import { ProviderProbe } from '../provider-status.js';

/**
 * The Connections page: the providers from env and the config file (read-only, with where each
 * comes from), and the ones added here — add, edit, test (its model list, before saving too) and
 * remove, live without a restart. A saved key is never sent back to the browser.
 */

/** models listed by a test, at most */
const TEST_MODELS_SHOWN = 60;

const KIND_LABELS: Record<(typeof CONNECTION_KINDS)[number], string> = { openai: 'OpenAI-compatible', anthropic: 'Anthropic', ollama: 'Ollama' };

const EMPTY_FORM: ConnectionForm = { name: '', kind: 'openai', baseURL: '', apiKey: '', clearKey: '', maxConcurrent: '4', requestsPerMinute: '', enabled: 'on' };

function idParam(request: FastifyRequest): number {
  const id = Number((request.params as { id: string }).id);
  if (!Number.isSafeInteger(id) || id <= 0) throw new ThreadloomError('not_found', 'no such connection');
  return id;
}

/** The form as the page shows it again: never the key that was typed. */
const shown = (form: ConnectionForm): ConnectionForm => ({ ...form, apiKey: '' });

function testView(result: TestResult): Record<string, unknown> {
  if (!result.ok) return { ok: false, error: result.error };
  return { ok: true, count: result.models.length, models: result.models.slice(0, TEST_MODELS_SHOWN), more: Math.max(0, result.models.length - TEST_MODELS_SHOWN) };
}

/** What an edit changed, for the audit log: the fields, and what happened to the key (never the key). */
function changes(before: ConnectionView, input: ConnectionInput): string {
  const out: string[] = [];
  if (before.name !== input.name) out.push(`name ${before.name} → ${input.name}`);
  if (before.kind !== input.kind) out.push(`kind ${input.kind}`);
  if (before.baseURL !== input.baseURL) out.push(`base URL ${input.baseURL}`);
  if (input.apiKey) out.push('key replaced');
  else if (input.clearKey && before.hasKey) out.push('key removed');
  if (before.maxConcurrent !== input.maxConcurrent || before.requestsPerMinute !== input.requestsPerMinute) out.push(`limits ${input.maxConcurrent} at once, ${input.requestsPerMinute ?? 'no'} per minute`);
  if (before.enabled !== input.enabled) out.push(input.enabled ? 'switched on' : 'switched off');
  return out.join('; ') || 'no change';
}

export function registerConnectionsRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const connections = ctx.runtime.connections;
  const probe = new ProviderProbe(ctx.runtime.deps.router, ctx.now);
  const formData = { kinds: CONNECTION_KINDS.map((k) => ({ value: k, label: KIND_LABELS[k], defaultURL: DEFAULT_BASE_URL[k] })) };

  async function listPage(reply: FastifyReply, data: { values: ConnectionForm; errors: ConnectionErrors; test?: TestResult; fresh?: boolean }) {
    const statuses = new Map((await probe.statuses({ fresh: data.fresh === true })).map((s) => [s.name, s]));
    const configured = Object.entries(ctx.config.providers).map(([name, p]) => ({
      name,
      kind: KIND_LABELS[p.kind],
      origin: providerOrigin(ctx.config, name),
      url: p.kind === 'ollama' ? p.host : (p.baseURL ?? DEFAULT_BASE_URL[p.kind]),
      status: statuses.get(name) ?? null,
    }));
    const stored = (await connections.list()).map((c) => ({ ...c, kindLabel: KIND_LABELS[c.kind], status: statuses.get(c.name) ?? null }));
    if (Object.keys(data.errors).length) reply.code(422);
    return reply.page('connections', {
      title: 'Connections',
      configured,
      stored,
      form: { ...formData, mode: 'new', action: '/connections', values: shown(data.values), errors: data.errors, hasKey: false, test: data.test ? testView(data.test) : null },
    });
  }

  async function editPage(reply: FastifyReply, connection: ConnectionView, data: { values: ConnectionForm; errors: ConnectionErrors; test?: TestResult }) {
    if (Object.keys(data.errors).length) reply.code(422);
    return reply.page('connection-edit', {
      title: `Edit connection ${connection.name}`,
      connection,
      form: { ...formData, mode: 'edit', id: connection.id, action: `/connections/${connection.id}`, values: shown(data.values), errors: data.errors, hasKey: connection.hasKey, test: data.test ? testView(data.test) : null },
    });
  }

  /** The form checked, the name against the other providers too, so every message shows at once. */
  async function check(values: ConnectionForm, id?: number): Promise<{ input: ConnectionInput | null; errors: ConnectionErrors }> {
    const parsed = parseConnectionForm(values);
    const clash = parsed.errors.name ? null : await connections.nameProblem(values.name.trim(), id);
    return clash ? { input: null, errors: { ...parsed.errors, name: clash } } : parsed;
  }

  app.get<{ Querystring: { fresh?: string } }>('/connections', async (request, reply) => listPage(reply, { values: EMPTY_FORM, errors: {}, fresh: request.query.fresh === '1' }));

  app.post('/connections', async (request, reply) => {
    const values = readConnectionForm(request.body);
    const { input, errors } = await check(values);
    if (!input) return listPage(reply, { values, errors });
    const added = await connections.add(input);
    if (!added.view) return listPage(reply, { values, errors: added.errors });
    await audit(ctx, request, 'connection.add', `${input.kind} at ${input.baseURL}${input.apiKey ? ', with a key' : ''}`, input.name);
    request.session!.flash = added.view.problem ? `Saved “${input.name}”, but it is off: ${added.view.problem}` : `Added the connection “${input.name}”: its models can be picked now.`;
    return reply.redirect('/connections?fresh=1', 303);
  });

  // "Test" sends the form as it is; htmx swaps the result in, a browser without scripts gets the page again
  app.post('/connections/test', async (request, reply) => {
    const values = readConnectionForm(request.body);
    const rawId = (request.body as Record<string, unknown> | undefined)?.id;
    const id = typeof rawId === 'string' && /^\d+$/.test(rawId) ? Number(rawId) : undefined;
    const { input, errors } = parseConnectionForm({ ...values, name: values.name || 'test' });
    const result: TestResult = input ? await connections.test(input, id) : { ok: false, error: Object.values(errors)[0] ?? 'the form is not complete' };
    if (request.isHtmx) return reply.partial('connection-test', testView(result));
    if (id !== undefined) return editPage(reply, await connections.get(id), { values, errors: {}, test: result });
    return listPage(reply, { values, errors: {}, test: result });
  });

  app.get('/connections/:id/edit', async (request, reply) => {
    const connection = await connections.get(idParam(request));
    const values = connectionFormValues({
      name: connection.name, kind: connection.kind, base_url: connection.baseURL, max_concurrent: connection.maxConcurrent,
      requests_per_minute: connection.requestsPerMinute, enabled: connection.enabled ? 1 : 0,
    });
    return editPage(reply, connection, { values, errors: {} });
  });

  app.post('/connections/:id', async (request, reply) => {
    const before = await connections.get(idParam(request));
    const values = readConnectionForm(request.body);
    const { input, errors } = await check(values, before.id);
    if (!input) return editPage(reply, before, { values, errors });
    const saved = await connections.update(before.id, input);
    if (!saved.view) return editPage(reply, before, { values, errors: saved.errors });
    await audit(ctx, request, 'connection.edit', changes(before, input), input.name);
    request.session!.flash = saved.view.problem ? `Saved “${input.name}”, but it is off: ${saved.view.problem}` : `Saved the connection “${input.name}”.`;
    return reply.redirect('/connections?fresh=1', 303);
  });

  app.post('/connections/:id/remove', async (request, reply) => {
    const removed = await connections.remove(idParam(request));
    await audit(ctx, request, 'connection.remove', `${removed.kind} at ${removed.baseURL}`, removed.name);
    request.session!.flash = `Removed the connection “${removed.name}”: turns that use its models now fail until they are changed.`;
    return reply.redirect('/connections?fresh=1', 303);
  });
}
