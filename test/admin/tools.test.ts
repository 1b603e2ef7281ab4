import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpServerSchema } from '../../src/core/tools/mcp/config.js';
import { callContext, homelabServer, isAlive, toolNamed } from '../fakes/mcp/support.js';
import { startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';
import { storedInDatabase } from '../support/db.js';
import { until } from '../support/wait.js';

const SECRET = 'homelab-token-7f3a9c-do-not-leak';
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const MARKED = path.join(import.meta.dirname, '../fakes/mcp/marked-server.ts');

/** The add form for the homelab fake, as a browser sends it. */
function homelabForm(name: string, extra: Record<string, string> = {}): Record<string, string> {
  const server = homelabServer() as { command: string; args: string[] };
  return { name, kind: 'command', command: server.command, args: server.args.join('\n'), env: `HOMELAB_TOKEN=${SECRET}\nMODE=lab`, enabled: 'on', ...extra };
}

describe('Tools page', () => {
  let dir: string;
  let admin: TestAdmin;
  let session: AdminSession;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'threadloom-tools-'));
    admin = await startTestAdmin({ dir });
    session = await admin.login();
  });
  afterAll(async () => {
    await admin?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should list the built-in tools and say no MCP server is there yet', async () => {
    const page = await session.get('/tools');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<a href="/tools" aria-current="page">Tools</a>');
    expect(page.body).toContain('<code>current_time</code>');
    expect(page.body).toContain('No MCP server yet');
  });

  it('should test a server before it is saved, showing its tools or why not in plain words', async () => {
    const ok = await session.post('/tools/servers/test', homelabForm('homelab'), { htmx: true });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('Connected over stdio');
    expect(ok.body).toContain('<code>homelab__list_machines</code>');
    expect(ok.body).toContain('Lists the machines in the homelab');
    expect(ok.body).toContain('&quot;type&quot;: &quot;object&quot;');
    const failed = await session.post('/tools/servers/test', { ...homelabForm('broken'), command: '/nonexistent/mcp-server' }, { htmx: true });
    expect(failed.body).toContain('Test failed:');
    expect(admin.rt.mcp.status().map((s) => s.name)).toEqual([]);
  });

  it('should add a stdio server that connects at once, its secret env value sealed and never shown', async () => {
    const added = await session.post('/tools/servers', homelabForm('homelab'));
    expect(added.statusCode, added.body.slice(0, 500)).toBe(303);
    const page = await session.get('/tools');
    expect(page.body).toContain('Added “homelab”: connected');
    expect(page.body).toMatch(/<span class="state state-connected">connected<\/span> · stdio · \d+ tools/);
    expect(page.body).toContain('<code>homelab__reboot_machine</code>');
    expect(page.body).not.toContain(SECRET);
    // the server got the value
    const env = toolNamed(admin.rt.mcp.get('homelab')!, 'read_env');
    expect((await admin.rt.mcp.get('homelab')!.call(env, { name: 'HOMELAB_TOKEN' }, callContext())).text).toBe(SECRET);
    // the model is offered its tools through the registry
    expect(admin.rt.deps.tools!.sourceNames).toContain('homelab');
    const edit = await session.get(`/tools/servers/${(await admin.rt.mcpStore.list())[0]!.id}/edit`);
    expect(edit.body).not.toContain(SECRET);
    expect(edit.body).toContain('HOMELAB_TOKEN=\nMODE=');
    expect(edit.body).toContain('A value is saved for HOMELAB_TOKEN, MODE');
    expect(await storedInDatabase(admin.rt.database, SECRET)).toBe(false);
    const audit = await admin.rt.database.db.selectFrom('audit_log').selectAll().where('action', '=', 'mcp.add').execute();
    expect(audit.map((a) => [a.target, a.detail])).toEqual([['homelab', expect.stringContaining('with values for HOMELAB_TOKEN, MODE')]]);
    expect(audit[0]!.detail).not.toContain(SECRET);
  });

  it('should refuse a taken name and a variable that is not set, beside their fields', async () => {
    const taken = await session.post('/tools/servers', homelabForm('homelab'));
    expect(taken.statusCode).toBe(422);
    expect(taken.body).toContain('a server named &quot;homelab&quot; already exists');
    expect(taken.body).not.toContain(SECRET);
    expect(taken.body).toContain('>HOMELAB_TOKEN=\nMODE=</textarea>');
    expect(taken.body).toContain('The values typed were not sent back to this page: type them again');
    const unset = await session.post('/tools/servers', homelabForm('lab2', { envFrom: 'THREADLOOM_NOT_SET_ANYWHERE' }));
    expect(unset.statusCode).toBe(422);
    expect(unset.body).toMatch(/id="f-envFrom-error">the variable THREADLOOM_NOT_SET_ANYWHERE is not set/);
    const badLine = await session.post('/tools/servers', homelabForm('lab3', { env: 'no equals sign here' }));
    expect(badLine.body).toContain('line 1: write KEY=value, one a line');
  });

  it('should keep a saved value left empty on edit, and switch a server off and on', async () => {
    const id = (await admin.rt.mcpStore.list())[0]!.id;
    const saved = await session.post(`/tools/servers/${id}`, homelabForm('homelab', { env: 'HOMELAB_TOKEN=\nMODE=' }));
    expect(saved.statusCode).toBe(303);
    const env = toolNamed(admin.rt.mcp.get('homelab')!, 'read_env');
    expect((await admin.rt.mcp.get('homelab')!.call(env, { name: 'HOMELAB_TOKEN' }, callContext())).text).toBe(SECRET);
    expect((await session.post(`/tools/servers/${id}/disable`)).statusCode).toBe(303);
    expect(admin.rt.mcp.status()[0]!.state).toBe('disabled');
    expect((await session.get('/tools')).body).toContain('<span class="state state-off">disabled</span>');
    expect((await session.post(`/tools/servers/${id}/enable`)).statusCode).toBe(303);
    expect(admin.rt.mcp.status()[0]!.state).toBe('connected');
    const actions = (await admin.rt.database.db.selectFrom('audit_log').select('action').where('action', 'like', 'mcp.%').execute()).map((a) => a.action);
    expect(actions).toEqual(['mcp.add', 'mcp.edit', 'mcp.disable', 'mcp.enable']);
  });

  it('should save an Experience’s tools as chosen, none being on by default', async () => {
    expect((await admin.rt.deps.experiences.require('homelab')).tools.sources).toEqual([]);
    const page = await session.get('/tools/experiences/homelab');
    expect(page.body).toContain('<option value="" selected>default (confirm)</option>');
    expect(page.body).toContain('name="mode.homelab__list_machines"');
    const saved = await session.post('/tools/experiences/homelab', {
      sources: 'homelab',
      'mode.homelab__list_machines': 'confirm',
      'mode.homelab__hang': 'off',
      'mode.homelab__reboot_machine': '',
      maxRounds: '4', timeoutMs: '30000', approvalTimeoutMs: '60000', resultMaxChars: '8000',
    });
    expect(saved.statusCode, saved.body.slice(0, 400)).toBe(303);
    const tools = (await admin.rt.deps.experiences.require('homelab')).tools;
    expect(tools).toEqual({ sources: ['homelab'], modes: { homelab__list_machines: 'confirm', homelab__hang: 'off' }, maxRounds: 4, timeoutMs: 30000, approvalTimeoutMs: 60000, resultMaxChars: 8000 });
    const again = await session.get('/tools/experiences/homelab');
    expect(again.body).toMatch(/id="src-homelab" name="sources" value="homelab" type="checkbox" checked/);
    const bad = await session.post('/tools/experiences/homelab', { sources: 'homelab', maxRounds: '99', timeoutMs: '', approvalTimeoutMs: '', resultMaxChars: '' });
    expect(bad.statusCode).toBe(422);
    expect(bad.body).toContain('id="f-maxRounds-error"');
    expect((await admin.rt.database.db.selectFrom('audit_log').selectAll().where('action', '=', 'experience.tools').execute()).map((a) => a.detail)).toEqual([
      expect.stringContaining('on: homelab'),
    ]);
    expect((await session.get('/tools')).body).toMatch(/<td>[^<]*<\/td><td>homelab<\/td><td><a href="\/tools\/experiences\/homelab">/);
  });

  it('should bring a stored server back after a restart on the same data directory', async () => {
    await admin.close();
    admin = await startTestAdmin({ dir });
    session = await admin.login();
    await until(() => admin.rt.mcp.status()[0]?.state === 'connected', 15_000);
    const env = toolNamed(admin.rt.mcp.get('homelab')!, 'read_env');
    expect((await admin.rt.mcp.get('homelab')!.call(env, { name: 'HOMELAB_TOKEN' }, callContext())).text).toBe(SECRET);
    expect((await session.get('/tools')).body).toContain('<code>homelab__list_machines</code>');
  });

  it('should leave a server whose values no longer decrypt disabled, saying why', async () => {
    await admin.close();
    writeFileSync(path.join(dir, 'secret-key'), 'a different key altogether\n');
    admin = await startTestAdmin({ dir });
    session = await admin.login();
    expect(admin.rt.mcp.status()[0]!.state).toBe('disabled');
    const page = await session.get('/tools');
    expect(page.body).toContain('cannot be decrypted');
    // typing the value again brings it back
    const id = (await admin.rt.mcpStore.list())[0]!.id;
    expect((await session.post(`/tools/servers/${id}`, homelabForm('homelab'))).statusCode).toBe(303);
    expect(admin.rt.mcp.status()[0]!.state).toBe('connected');
  });

  it('should stop a removed server and its process', async () => {
    const id = (await admin.rt.mcpStore.list())[0]!.id;
    const pid = admin.rt.mcp.status()[0]!.pid!;
    expect(isAlive(pid)).toBe(true);
    const confirm = await session.get(`/tools/servers/${id}/remove`, { 'hx-request': 'true' });
    expect(confirm.body).toContain('Yes, remove homelab');
    expect((await session.post(`/tools/servers/${id}/remove`)).statusCode).toBe(303);
    expect(admin.rt.mcp.status()).toEqual([]);
    expect(admin.rt.deps.tools!.sourceNames).not.toContain('homelab');
    await until(() => !isAlive(pid), 5_000);
    expect((await session.get('/tools')).body).toContain('Removed the MCP server “homelab”');
  });
});

describe('Tools page with a config-file server', () => {
  let admin: TestAdmin;
  let session: AdminSession;

  beforeAll(async () => {
    const marked = mcpServerSchema.parse({ command: process.execPath, args: ['--import', TSX, MARKED] });
    admin = await startTestAdmin({ config: (c) => ({ ...c, mcp: { servers: { marked } } }) });
    session = await admin.login();
    await until(() => admin.rt.mcp.status()[0]?.state === 'connected', 15_000);
  });
  afterAll(async () => {
    await admin?.close();
  });

  it('should show it read-only, with where it comes from', async () => {
    const page = await session.get('/tools');
    expect(page.body).toContain('config file: mcp.servers.marked');
    expect(page.body).toContain('Change it in the config file (mcp.servers.marked) and restart.');
    expect(page.body).not.toContain('/tools/servers/1/edit');
    const clash = await session.post('/tools/servers', homelabForm('marked'));
    expect(clash.statusCode).toBe(422);
    expect(clash.body).toContain('is a server in the config file (mcp.servers.marked)');
  });

  it('should keep a stored server’s own secret values out of the stderr it shows', async () => {
    const token = 'marked-token-8c1d-not-for-the-page';
    const form = { name: 'echo', kind: 'command', command: process.execPath, args: ['--import', TSX, MARKED].join('\n'), env: `MARKED_TOKEN=${token}`, enabled: 'on' };
    const tested = await session.post('/tools/servers/test', { ...form, command: '/nonexistent/echo' }, { htmx: true });
    expect(tested.body).not.toContain(token);
    expect((await session.post('/tools/servers', form)).statusCode).toBe(303);
    await until(() => admin.rt.mcp.status().find((s) => s.name === 'echo')?.stderrTail.some((l) => l.startsWith('using token')), 10_000);
    const page = await session.get('/tools');
    expect(page.body).toContain('using token [redacted]');
    expect(page.body).not.toContain(token);
  });

  it('should render what a server and its tools say as text, never as markup', async () => {
    const page = await session.get('/tools');
    expect(page.body).toContain('&lt;script&gt;alert(&quot;tool&quot;)&lt;/script&gt; Says it loudly');
    expect(page.body).not.toContain('<script>alert');
    expect(page.body).toContain('&lt;img src=x onerror=alert(&quot;stderr&quot;)&gt;');
    expect(page.body).not.toContain('<img src=x');
    expect(page.body).toContain('&lt;b&gt;what&lt;/b&gt; to say');
    const policy = await session.get('/tools/experiences/general');
    expect(policy.body).toContain('&lt;script&gt;alert(&quot;tool&quot;)&lt;/script&gt;');
    expect(policy.body).not.toContain('<script>alert');
  });
});

describe('Tools page with an HTTP server', () => {
  const BEARER = 'Bearer http-header-secret-31337';
  let admin: TestAdmin;
  let session: AdminSession;
  const seen: IncomingHttpHeaders[] = [];
  const http = createServer((request, response) => {
    seen.push(request.headers);
    request.resume();
    response.writeHead(404).end('no MCP here');
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    admin = await startTestAdmin();
    session = await admin.login();
  });
  afterAll(async () => {
    await admin?.close();
    await new Promise((resolve) => http.close(resolve));
  });

  it('should send a saved header value without ever showing or storing it in plain text, and say why it failed', async () => {
    const url = `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`;
    const added = await session.post('/tools/servers', { name: 'remote', kind: 'url', url, transport: 'streamable-http', headers: `Authorization: ${BEARER}\nX-Team: lab`, enabled: 'on' });
    expect(added.statusCode, added.body.slice(0, 400)).toBe(303);
    expect(seen.at(-1)).toMatchObject({ authorization: BEARER, 'x-team': 'lab' });
    const page = await session.get('/tools');
    expect(page.body).toContain('Added “remote”, but it is not connected: ');
    expect(page.body).toContain('<span class="state state-error">failed</span>');
    expect(page.body).toContain('HTTP 404');
    expect(page.body).not.toContain(BEARER);
    const id = (await admin.rt.mcpStore.list())[0]!.id;
    const edit = await session.get(`/tools/servers/${id}/edit`);
    expect(edit.body).toContain('A value is saved for Authorization, X-Team');
    expect(edit.body).not.toContain('http-header-secret');
    // Test on the edit page, the value left empty: the saved one is sent
    seen.length = 0;
    const tested = await session.post('/tools/servers/test', { id: String(id), name: 'remote', kind: 'url', url, transport: 'streamable-http', headers: 'Authorization: \nX-Team: ', enabled: 'on' }, { htmx: true });
    expect(tested.body).toContain('Test failed:');
    expect(seen[0]).toMatchObject({ authorization: BEARER });
    expect(await storedInDatabase(admin.rt.database, 'http-header-secret')).toBe(false);
    expect((await session.post(`/tools/servers/${id}/remove`)).statusCode).toBe(303);
  });
});
