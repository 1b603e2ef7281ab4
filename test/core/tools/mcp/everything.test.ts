import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { mcpServersSchema } from '../../../../src/core/tools/mcp/config.js';
import { McpServers } from '../../../../src/core/tools/mcp/source.js';
import type { ToolSource } from '../../../../src/core/tools/types.js';
import { callContext, dataDir, EVERYTHING, freePort, recordingLogger, toolNamed } from '../../../fakes/mcp/support.js';
import { until } from '../../../support/wait.js';

/** The reference server from the MCP project, as a real peer over each transport. */

let cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function connect(config: Record<string, unknown>): Promise<{ servers: McpServers; source: ToolSource }> {
  const servers = new McpServers(mcpServersSchema.parse({ everything: config }), {
    dataDir: dataDir(),
    env: { PATH: process.env.PATH },
    logger: recordingLogger(),
    backoff: { firstMs: 200, maxMs: 1_000, stableMs: 60_000 },
  });
  cleanup.push(() => servers.stop());
  await servers.start();
  expect(servers.status()[0]).toMatchObject({ state: 'connected', error: null });
  return { servers, source: servers.get('everything')! };
}

/** server-everything over HTTP on a free port, until the test ends. */
async function everythingOverHttp(mode: 'streamableHttp' | 'sse', port?: number): Promise<{ port: number; stop: () => Promise<unknown> }> {
  port ??= await freePort();
  const child: ChildProcess = spawn(process.execPath, [EVERYTHING, mode], {
    env: { PATH: process.env.PATH, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = () => {
    child.kill('SIGKILL');
    return exited;
  };
  cleanup.push(stop);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  await until(() => /port \d+/.test(stderr) || child.exitCode !== null);
  if (child.exitCode !== null) throw new Error(`server-everything did not start: ${stderr}`);
  return { port, stop };
}

describe('MCP with server-everything', () => {
  it('should list its tools, echo, and pass on the progress of a long operation over stdio', async () => {
    const { source, servers } = await connect({ command: process.execPath, args: [EVERYTHING, 'stdio'] });
    expect(source.tools().map((t) => t.name)).toEqual(expect.arrayContaining(['everything__echo', 'everything__get-sum']));
    expect(await source.call(toolNamed(source, 'echo'), { message: 'hello' }, callContext())).toEqual({ text: 'Echo: hello', isError: false });

    const progress: string[] = [];
    const long = toolNamed(source, 'trigger-long-running-operation');
    expect(long.readOnly).toBe(true);
    const done = await source.call(long, { duration: 0.6, steps: 3 }, callContext(undefined, (line) => progress.push(line)));
    expect(done.text).toMatch(/^Long running operation completed/);
    // the last step's notice may come after the answer (the SDK handles answers first), when no one needs it
    expect(progress.slice(0, 2)).toEqual(['1/3', '2/3']);

    // it registers more tools once the session is initialized, and says so
    await until(() => source.tools().some((t) => t.sourceName === 'simulate-research-query'));
    expect(servers.status()[0]!.tools).toBe(source.tools().length);
  });

  it('should connect over streamable HTTP', async () => {
    const { port } = await everythingOverHttp('streamableHttp');
    const { source, servers } = await connect({ url: `http://127.0.0.1:${port}/mcp` });
    expect(servers.status()[0]!.transport).toBe('streamable-http');
    expect(await source.call(toolNamed(source, 'echo'), { message: 'over http' }, callContext())).toEqual({ text: 'Echo: over http', isError: false });
  });

  it('should fall back to SSE when the server does not take the streamable POST', async () => {
    const { port } = await everythingOverHttp('sse');
    const { source, servers } = await connect({ url: `http://127.0.0.1:${port}/sse` });
    expect(servers.status()[0]!.transport).toBe('sse');
    expect(await source.call(toolNamed(source, 'echo'), { message: 'over sse' }, callContext())).toEqual({ text: 'Echo: over sse', isError: false });
  });

  it('should notice an HTTP server that went away, and connect again once it is back', async () => {
    const first = await everythingOverHttp('streamableHttp');
    const { source, servers } = await connect({ url: `http://127.0.0.1:${first.port}/mcp` });
    await first.stop();
    const lost = await source.call(toolNamed(source, 'echo'), { message: 'anyone?' }, callContext());
    expect(lost.isError).toBe(true);
    expect(lost.text).toMatch(/^the MCP server everything could not be reached: /);
    expect(servers.status()[0]).toMatchObject({ state: 'failed', tools: 0 });

    await everythingOverHttp('streamableHttp', first.port);
    await until(() => servers.status()[0]!.state === 'connected');
    expect(await source.call(toolNamed(source, 'echo'), { message: 'back' }, callContext())).toEqual({ text: 'Echo: back', isError: false });
  });
});
