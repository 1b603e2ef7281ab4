import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ThreadloomError } from '../../core/errors.js';
import { redactSecrets } from '../../core/redact.js';
import type { Experience } from '../../core/experiences/service.js';
import { EMPTY_MCP_FORM, mcpServerFormValues, parseMcpServerForm, readMcpServerForm, type McpServerErrors, type McpServerForm, type McpServerInput } from '../../core/tools/mcp/form.js';
import type { McpServerStatus } from '../../core/tools/mcp/server.js';
import type { McpTestResult } from '../../core/tools/mcp/source.js';
import type { StoredMcpServer } from '../../core/tools/mcp/store.js';
import { BUILTIN_SOURCE, type ToolDefinition } from '../../core/tools/types.js';
import { audit } from '../audit.js';
import type { AdminContext } from '../context.js';
import { policyChanges, policyValues, readPolicyForm, type PolicyErrors, type PolicyNumber } from '../tool-policy-form.js';

/**
 * The Tools page: the built-in tools; every MCP server with its state, stderr tail and tools —
 * the config file's read-only, the ones added here to add, edit, test, switch on or off and
 * remove at run time; and per Experience which sources and tools are on and how each runs.
 * Everything a tool or server says is data: rendered escaped, never as markup.
 */

const STATE_CLASS: Record<McpServerStatus['state'], string> = { connected: 'connected', connecting: 'connecting', failed: 'error', disabled: 'off' };

interface ToolView {
  name: string;
  sourceName: string;
  description: string;
  readOnly: boolean;
  schema: string;
}

const toolView = (t: ToolDefinition): ToolView => ({ name: t.name, sourceName: t.sourceName, description: t.description, readOnly: t.readOnly, schema: JSON.stringify(t.inputSchema, null, 2) });

/** Never a value typed into env or headers: their names come back with empty values, and the form says to type them again. */
function shownForm(values: McpServerForm, form: Record<string, unknown>): Record<string, unknown> {
  const lines = (text: string) => text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const typed = (text: string, sep: string) => lines(text).some((l) => l.slice(l.indexOf(sep) + 1).trim() !== '');
  const names = (text: string, sep: string) => lines(text).map((l) => l.split(sep)[0]!.trim()).filter(Boolean);
  return {
    ...form,
    values: { ...values, env: names(values.env, '=').map((k) => `${k}=`).join('\n'), headers: names(values.headers, ':').map((k) => `${k}: `).join('\n') },
    retype: { env: typed(values.env, '='), headers: typed(values.headers, ':') },
  };
}

function idParam(request: FastifyRequest): number {
  const id = Number((request.params as { id: string }).id);
  if (!Number.isSafeInteger(id) || id <= 0) throw new ThreadloomError('not_found', 'no such MCP server');
  return id;
}

function testView(result: McpTestResult, secrets: readonly string[] = []): Record<string, unknown> {
  if (!result.ok) return { ok: false, error: redactSecrets(result.error, secrets), stderr: redactSecrets(result.stderrTail.join('\n'), secrets) };
  return { ok: true, transport: result.transport, tools: result.tools.map(toolView) };
}

/** What an edit changed, for the audit log: the settings, and which secret names were given (never values). */
function changes(before: StoredMcpServer, input: McpServerInput): string {
  const out: string[] = [];
  if (before.name !== input.name) out.push(`name ${before.name} → ${input.name}`);
  if (JSON.stringify(before.config) !== JSON.stringify(input.config)) out.push('settings changed');
  const secrets = Object.keys(input.kind === 'stdio' ? input.env : input.headers);
  const typed = Object.entries(input.kind === 'stdio' ? input.env : input.headers).filter(([, v]) => v !== '').map(([k]) => k);
  if (typed.length) out.push(`new values for ${typed.join(', ')}`);
  const dropped = [...before.secretNames.env, ...before.secretNames.headers].filter((k) => !secrets.includes(k));
  if (dropped.length) out.push(`removed ${dropped.join(', ')}`);
  if (before.enabled !== input.enabled) out.push(input.enabled ? 'switched on' : 'switched off');
  return out.join('; ') || 'no change';
}

function describe(input: McpServerInput): string {
  const c = input.config;
  const secrets = Object.keys(input.kind === 'stdio' ? input.env : input.headers);
  const what = input.kind === 'stdio' ? `command ${String(c.command)}` : `url ${String(c.url)}`;
  return `${what}${secrets.length ? `, with values for ${secrets.join(', ')}` : ''}${input.enabled ? '' : ', off'}`;
}

export function registerToolsRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const { mcp, mcpStore } = ctx.runtime;
  const experiences = ctx.runtime.deps.experiences;
  const configured = (): string[] => Object.keys(ctx.config.mcp.servers);

  function serverView(name: string, stored: StoredMcpServer | null) {
    // a stored server whose name the config file took since is not the one running under it
    const shadowed = stored !== null && configured().includes(name);
    const status = shadowed ? undefined : mcp.status().find((s) => s.name === name);
    const problem = stored?.problem ?? null;
    const state = shadowed ? 'disabled' : (status?.state ?? 'failed');
    // a server may print what it was given; its own secret values never reach the page
    const secrets = stored ? mcpStore.secretValues(name) : [];
    const redact = (text: string | null): string | null => (text === null ? null : redactSecrets(text, secrets));
    return {
      name,
      anchor: shadowed ? `${name}-stored` : name,
      id: stored?.id ?? null,
      origin: stored ? 'added here' : `config file: mcp.servers.${name}`,
      readOnly: !stored,
      enabled: stored ? stored.enabled : status?.state !== 'disabled',
      transport: status?.transport ?? (stored?.kind === 'http' ? 'http' : 'stdio'),
      state,
      stateClass: STATE_CLASS[state],
      error: redact(problem ?? status?.error ?? (status ? null : 'not started')),
      stderr: redact(status?.stderrTail.join('\n') ?? '') ?? '',
      toolCount: status?.tools ?? 0,
      tools: shadowed ? [] : (mcp.get(name)?.tools() ?? []).map(toolView),
    };
  }

  async function listPage(reply: FastifyReply, data: { values: McpServerForm; errors: McpServerErrors; test?: McpTestResult }) {
    const stored = await mcpStore.list();
    const servers = [...configured().map((n) => serverView(n, null)), ...stored.map((s) => serverView(s.name, s))];
    const builtin = (ctx.runtime.deps.tools?.source(BUILTIN_SOURCE)?.tools() ?? []).map(toolView);
    const list = (await experiences.list()).map((e) => ({ slug: e.slug, name: e.name, sources: e.tools.sources }));
    if (Object.keys(data.errors).length) reply.code(422);
    return reply.page('tools', {
      title: 'Tools',
      builtin,
      servers,
      experiences: list,
      form: shownForm(data.values, { mode: 'new', action: '/tools/servers', errors: data.errors, secretNames: { env: [], headers: [] }, test: data.test ? testView(data.test) : null }),
    });
  }

  async function editPage(reply: FastifyReply, server: StoredMcpServer, data: { values: McpServerForm; errors: McpServerErrors; test?: McpTestResult }) {
    if (Object.keys(data.errors).length) reply.code(422);
    return reply.page('tools-server', {
      title: `Edit MCP server ${server.name}`,
      server: serverView(server.name, server),
      form: shownForm(data.values, { mode: 'edit', id: server.id, action: `/tools/servers/${server.id}`, errors: data.errors, secretNames: server.secretNames, test: data.test ? testView(data.test) : null }),
    });
  }

  /** The form checked, the name against the others too, so every message shows at once. */
  async function check(values: McpServerForm, id?: number): Promise<{ input: McpServerInput | null; errors: McpServerErrors }> {
    const parsed = parseMcpServerForm(values);
    const clash = parsed.errors.name ? null : await mcpStore.nameProblem(values.name.trim(), id);
    return clash ? { input: null, errors: { ...parsed.errors, name: clash } } : parsed;
  }

  function flashFor(server: StoredMcpServer, verb: string): string {
    const view = serverView(server.name, server);
    if (server.problem) return `${verb} “${server.name}”, but it is off: ${server.problem}`;
    if (view.state === 'connected') return `${verb} “${server.name}”: connected, ${view.toolCount} tool${view.toolCount === 1 ? '' : 's'}.`;
    if (view.state === 'disabled') return `${verb} “${server.name}”; it is off.`;
    return `${verb} “${server.name}”, but it is not connected: ${view.error ?? view.state}`;
  }

  app.get('/tools', async (_request, reply) => listPage(reply, { values: EMPTY_MCP_FORM, errors: {} }));

  app.post('/tools/servers', async (request, reply) => {
    const values = readMcpServerForm(request.body);
    const { input, errors } = await check(values);
    if (!input) return listPage(reply, { values: values, errors });
    const saved = await mcpStore.save(input);
    if (!saved.server) return listPage(reply, { values: values, errors: saved.errors });
    await audit(ctx, request, 'mcp.add', describe(input), input.name);
    request.session!.flash = flashFor(saved.server, 'Added');
    return reply.redirect('/tools', 303);
  });

  // "Test" sends the form as it is; htmx swaps the result in, a browser without scripts gets the page again
  app.post('/tools/servers/test', async (request, reply) => {
    const values = readMcpServerForm(request.body);
    const rawId = (request.body as Record<string, unknown> | undefined)?.id;
    const id = typeof rawId === 'string' && /^\d+$/.test(rawId) ? Number(rawId) : undefined;
    const { input, errors } = parseMcpServerForm({ ...values, name: values.name.trim() || 'test' });
    const result: McpTestResult = input ? await mcpStore.test(input, id) : { ok: false, error: Object.entries(errors).map(([f, m]) => `${f}: ${m}`).join('; '), stderrTail: [] };
    const secrets = input ? [...Object.values(input.env), ...Object.values(input.headers), ...(id === undefined ? [] : mcpStore.secretValues((await mcpStore.get(id)).name))].filter(Boolean) : [];
    if (request.isHtmx) return reply.partial('tools-test', testView(result, secrets));
    if (id !== undefined) return editPage(reply, await mcpStore.get(id), { values: values, errors: {}, test: result });
    return listPage(reply, { values: values, errors: {}, test: result });
  });

  app.get('/tools/servers/:id/edit', async (request, reply) => {
    const server = await mcpStore.get(idParam(request));
    return editPage(reply, server, { values: mcpServerFormValues(server), errors: {} });
  });

  app.post('/tools/servers/:id', async (request, reply) => {
    const before = await mcpStore.get(idParam(request));
    const values = readMcpServerForm(request.body);
    const { input, errors } = await check(values, before.id);
    if (!input) return editPage(reply, before, { values: values, errors });
    const saved = await mcpStore.save(input, before.id);
    if (!saved.server) return editPage(reply, before, { values: values, errors: saved.errors });
    await audit(ctx, request, 'mcp.edit', changes(before, input), input.name);
    request.session!.flash = flashFor(saved.server, 'Saved');
    return reply.redirect('/tools', 303);
  });

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post(`/tools/servers/:id/${verb}`, async (request, reply) => {
      const server = await mcpStore.setEnabled(idParam(request), enabled);
      await audit(ctx, request, `mcp.${verb}`, null, server.name);
      request.session!.flash = flashFor(server, enabled ? 'Switched on' : 'Switched off');
      return reply.redirect('/tools', 303);
    });
  }

  app.get('/tools/servers/:id/remove', async (request, reply) => {
    const server = await mcpStore.get(idParam(request));
    const data = { id: server.id, name: server.name };
    if (request.isHtmx) return reply.partial('tools-confirm-remove', { ...data, csrf: request.session!.csrf });
    return reply.page('tools-remove', { title: `Remove MCP server ${server.name}`, ...data });
  });

  app.post('/tools/servers/:id/remove', async (request, reply) => {
    const removed = await mcpStore.remove(idParam(request));
    await audit(ctx, request, 'mcp.remove', removed.kind === 'stdio' ? `command ${String(removed.config.command)}` : `url ${String(removed.config.url)}`, removed.name);
    request.session!.flash = `Removed the MCP server “${removed.name}”: its tools are no longer offered.`;
    return reply.redirect('/tools', 303);
  });

  // ---- per Experience: which sources and tools are on, and how each runs

  async function experience(request: FastifyRequest): Promise<Experience> {
    const slug = (request.params as { slug: string }).slug;
    const found = await experiences.get(slug);
    if (!found) throw new ThreadloomError('not_found', `no Experience "${slug}"`);
    return found;
  }

  /** Every source there is, with its tools now, plus sources the policy names that are gone. */
  function sourcesFor(found: Experience) {
    const names = [BUILTIN_SOURCE, ...mcp.status().map((s) => s.name)];
    for (const name of found.tools.sources) if (!names.includes(name)) names.push(name);
    return names.map((name) => {
      const source = ctx.runtime.deps.tools?.source(name) ?? mcp.get(name);
      const status = mcp.status().find((s) => s.name === name);
      const tools = source?.tools() ?? [];
      return {
        name,
        on: found.tools.sources.includes(name),
        gone: !source,
        state: name === BUILTIN_SOURCE ? null : status?.state ?? null,
        tools: tools.map((t) => ({ ...toolView(t), title: t.title, mode: found.tools.modes[t.name] ?? '', fallback: t.readOnly ? 'auto' : 'confirm' })),
      };
    });
  }

  async function policyPage(reply: FastifyReply, found: Experience, data: { values: Record<PolicyNumber, string>; errors: PolicyErrors }) {
    if (Object.keys(data.errors).length) reply.code(422);
    return reply.page('tools-experience', { title: `Tools of ${found.name}`, experience: { slug: found.slug, name: found.name }, sources: sourcesFor(found), values: data.values, errors: data.errors });
  }

  app.get('/tools/experiences/:slug', async (request, reply) => {
    const found = await experience(request);
    return policyPage(reply, found, { values: policyValues(found.tools), errors: {} });
  });

  app.post('/tools/experiences/:slug', async (request, reply) => {
    const found = await experience(request);
    const shownTools = sourcesFor(found).flatMap((s) => (ctx.runtime.deps.tools?.source(s.name) ?? mcp.get(s.name))?.tools() ?? []);
    const { policy, errors, values } = readPolicyForm(request.body, found.tools, shownTools);
    if (!policy) return policyPage(reply, found, { values, errors });
    await experiences.update(found.slug, { tools: policy });
    await audit(ctx, request, 'experience.tools', policyChanges(found.tools, policy), found.slug);
    request.session!.flash = policy.sources.length ? `Saved the tools of “${found.name}”: ${policy.sources.join(', ')} on.` : `Saved the tools of “${found.name}”: no tools are offered.`;
    return reply.redirect(`/tools/experiences/${encodeURIComponent(found.slug)}`, 303);
  });
}
