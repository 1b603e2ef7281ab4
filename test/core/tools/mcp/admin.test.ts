import { createServer, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ThreadloomError } from '../../../../src/core/errors.js';
import { McpServers } from '../../../../src/core/tools/mcp/source.js';
import { dataDir, homelabServer, isAlive, recordingLogger } from '../../../fakes/mcp/support.js';

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

function servers(env: NodeJS.ProcessEnv = { PATH: process.env.PATH }): McpServers {
  const all = new McpServers({}, { dataDir: dataDir(), env, logger: recordingLogger() });
  cleanup.push(() => all.stop());
  return all;
}

describe(`${McpServers.name} at run time`, () => {
  it('should add, replace and remove a server while running, and say when its tools changed', async () => {
    const all = servers();
    await all.start();
    let changes = 0;
    all.onChanged(() => changes++);

    const added = await all.put('lab', homelabServer());
    expect(added).toMatchObject({ name: 'lab', state: 'connected', transport: 'stdio' });
    expect(all.get('lab')!.tools().some((t) => t.name === 'lab__list_machines')).toBe(true);
    const firstPid = added.pid!;

    const replaced = await all.put('lab', homelabServer({ enabled: false }));
    expect(replaced).toMatchObject({ state: 'disabled', tools: 0 });
    expect(isAlive(firstPid)).toBe(false);

    expect(await all.remove('lab')).toBe(true);
    expect(await all.remove('lab')).toBe(false);
    expect(all.sources()).toEqual([]);
    expect(changes).toBeGreaterThanOrEqual(3);
  });

  it('should refuse a server whose config is wrong, with the lines to show', async () => {
    const all = servers();
    const refused = all.put('Lab', { command: 'x', envFrom: ['NOT_SET_ANYWHERE'] });
    await expect(refused).rejects.toBeInstanceOf(ThreadloomError);
    await expect(refused).rejects.toThrow(/name: MCP server names are lowercase[\s\S]*envFrom: the variable NOT_SET_ANYWHERE is not set/);
    expect(all.sources()).toEqual([]);
  });

  it('should try a server without keeping it: its tools, or why not in words', async () => {
    const all = servers();
    const works = await all.test(homelabServer(), 'lab');
    expect(works.ok && works.tools.map((t) => t.name)).toContain('lab__reboot_machine');
    expect(all.sources()).toEqual([]);

    expect(await all.test({ command: 'threadloom-no-such-mcp-server' })).toEqual({
      ok: false,
      error: 'the command "threadloom-no-such-mcp-server" was not found on the PATH it is given',
      stderrTail: [],
    });
  });

  it('should send headers whose values come from env by name, and say what the server answered', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const http = createServer((request, response) => {
      seen.push(request.headers);
      request.resume();
      response.writeHead(404).end('not here');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => http.close(resolve)));
    const { port } = http.address() as { port: number };

    const all = servers({ PATH: process.env.PATH, REMOTE_AUTH: 'Bearer from-env' });
    const result = await all.test({
      url: `http://127.0.0.1:${port}/mcp`,
      headers: { 'X-Team': 'homelab' },
      headersFromEnv: { Authorization: 'REMOTE_AUTH' },
    });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/^streamable HTTP: the server answered HTTP 404: .*; SSE: .*404/);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (const headers of seen) expect(headers).toMatchObject({ authorization: 'Bearer from-env', 'x-team': 'homelab' });
  });
});
