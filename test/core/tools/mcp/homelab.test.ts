import { realpathSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mcpServersSchema } from '../../../../src/core/tools/mcp/config.js';
import type { McpBackoff } from '../../../../src/core/tools/mcp/server.js';
import { McpServers } from '../../../../src/core/tools/mcp/source.js';
import { callContext, dataDir, homelabServer, isAlive, recordingLogger, toolNamed } from '../../../fakes/mcp/support.js';
import { until } from '../../../support/wait.js';

const FAST: McpBackoff = { firstMs: 200, maxMs: 5_000, stableMs: 60_000 };
let running: McpServers[] = [];

afterEach(async () => {
  await Promise.all(running.map((servers) => servers.stop()));
  running = [];
});

async function homelab(extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = { PATH: process.env.PATH }) {
  const logger = recordingLogger();
  const dir = dataDir();
  const servers = new McpServers(mcpServersSchema.parse({ homelab: homelabServer(extra) }), { dataDir: dir, env, logger, backoff: FAST });
  running.push(servers);
  await servers.start();
  const source = servers.get('homelab')!;
  return { servers, source, logger, dir, status: () => servers.status()[0]! };
}

describe(McpServers.name, () => {
  describe('tools', () => {
    // one server for the tests that only call it; a test that needs its own config starts its own
    let shared: Awaited<ReturnType<typeof homelab>>;
    beforeAll(async () => {
      shared = await homelab();
      running = [];
    });
    afterAll(() => shared.servers.stop());

    it('should offer the server tools under model-safe names, read-only only when MCP says so', async () => {
      const { source, status } = shared;
      expect(status().state).toBe('connected');
      const list = toolNamed(source, 'list_machines');
      expect(list).toMatchObject({ name: 'homelab__list_machines', title: 'homelab › list_machines', readOnly: true, source: 'homelab' });
      expect(list.description).toBe('Lists the machines in the homelab');
      expect(list.inputSchema.type).toBe('object');
      const reboot = toolNamed(source, 'reboot_machine');
      expect(reboot.readOnly).toBe(false);
      expect(reboot.inputSchema).toMatchObject({ type: 'object', properties: { name: { type: 'string' } } });
    });

    it('should answer with the tool text, and mark a failed tool as an error', async () => {
      const { source } = shared;
      const reboot = toolNamed(source, 'reboot_machine');
      expect(await source.call(reboot, { name: 'nas' }, callContext())).toEqual({ text: 'rebooting nas', isError: false });
      expect(await source.call(reboot, { name: 'toaster' }, callContext())).toEqual({ text: 'no machine named toaster', isError: true });
    });

    it('should describe an image in one line and give structured content as JSON', async () => {
      const { source } = shared;
      const output = await source.call(toolNamed(source, 'picture'), {}, callContext());
      expect(output.text).toBe('{"machines":3}\n[image image/png, 3 KB, not shown]');
    });

    it('should refresh the tools when the server says they changed', async () => {
      const { servers, source } = shared;
      let changes = 0;
      servers.onChanged(() => changes++);
      await source.call(toolNamed(source, 'add_tool'), { name: 'wake_on_lan' }, callContext());
      const added = await until(() => source.tools().find((t) => t.name === 'homelab__wake_on_lan'));
      expect(changes).toBeGreaterThan(0);
      expect(await source.call(added, {}, callContext())).toEqual({ text: 'wake_on_lan', isError: false });
    });
  });

  describe('the child process', () => {
    it('should see only PATH, HOME and the variables listed, never the rest of ours', async () => {
      const env = { PATH: process.env.PATH, HOME: '/home/threadloom', LAB_TOKEN: 'passed', ADMIN_PASSWORD: 'hunter2' };
      const { source } = await homelab({ env: { GREETING: 'hi' }, envFrom: ['LAB_TOKEN'] }, env);
      const read = async (name: string) => (await source.call(toolNamed(source, 'read_env'), { name }, callContext())).text;
      expect(await read('LAB_TOKEN')).toBe('passed');
      expect(await read('GREETING')).toBe('hi');
      expect(await read('HOME')).toBe('/home/threadloom');
      expect(await read('ADMIN_PASSWORD')).toBe('(unset)');
      expect(await read('USER')).toBe('(unset)');
    });

    it('should run in its own folder under the data dir', async () => {
      const { source, dir } = await homelab({ cwd: 'work' });
      const where = await source.call(toolNamed(source, 'where'), {}, callContext());
      expect(where.text).toBe(path.join(realpathSync(dir), 'mcp', 'homelab', 'work'));
    });

    it('should keep the tail of its stderr in the status and the log', async () => {
      const { status, logger } = await homelab();
      await until(() => status().stderrTail.some((line) => line.startsWith('homelab server ready')));
      expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'debug', fields: { mcpServer: 'homelab', stream: 'stderr' } }));
    });

    it('should leave no process behind after stop', async () => {
      const { servers, status } = await homelab();
      const pid = status().pid!;
      expect(isAlive(pid)).toBe(true);
      await servers.stop();
      expect(isAlive(pid)).toBe(false);
      expect(status()).toMatchObject({ state: 'failed', error: 'stopped', pid: null, tools: 0 });
    });

    it('should report a command that does not exist as failed, in words', async () => {
      const servers = new McpServers(mcpServersSchema.parse({ ghost: { command: 'threadloom-no-such-mcp-server' } }), {
        dataDir: dataDir(),
        env: { PATH: process.env.PATH },
        logger: recordingLogger(),
        backoff: FAST,
      });
      running.push(servers);
      await servers.start();
      expect(servers.status()[0]).toMatchObject({
        state: 'failed',
        error: 'the command "threadloom-no-such-mcp-server" was not found on the PATH it is given',
        tools: 0,
      });
      expect(servers.get('ghost')!.tools()).toEqual([]);
    });
  });

  describe('a server that does not start', () => {
    async function start(config: Record<string, unknown>) {
      const servers = new McpServers(mcpServersSchema.parse({ broken: config }), {
        dataDir: dataDir(),
        env: { PATH: process.env.PATH },
        logger: recordingLogger(),
        backoff: { ...FAST, firstMs: 60_000 },
      });
      running.push(servers);
      await servers.start();
      return servers.status()[0]!;
    }

    it('should say how it exited and keep what it wrote to stderr', async () => {
      const status = await start({ command: process.execPath, args: ['-e', 'console.error("LAB_TOKEN is not set"); process.exit(2)'] });
      expect(status).toMatchObject({ state: 'failed', error: 'the server process exited (exit code 2) before it answered', pid: null });
      expect(status.stderrTail).toEqual(['LAB_TOKEN is not set']);
    });

    it('should give up on one that never answers after its startup time, and end it', async () => {
      const status = await start({ command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], startupTimeoutMs: 500 });
      expect(status).toMatchObject({ state: 'failed', error: 'the server did not answer within 0.5 s of starting', pid: null });
    });
  });

  describe('calls that do not end well', () => {
    it('should resolve a call that never answers as timed out', async () => {
      const { source } = await homelab({ timeoutMs: 300 });
      expect(await source.call(toolNamed(source, 'hang'), {}, callContext())).toEqual({
        text: 'the tool homelab › hang timed out after 0.3 s',
        isError: true,
      });
    });

    it('should resolve a call as stopped when its signal aborts', async () => {
      const { source } = await homelab();
      const stop = new AbortController();
      setTimeout(() => stop.abort(), 200);
      expect(await source.call(toolNamed(source, 'hang'), {}, callContext(stop.signal))).toEqual({
        text: 'the call to homelab › hang was stopped before it finished',
        isError: true,
      });
    });

    it('should resolve a call as an error when the server dies during it, and start the server again', async () => {
      const { source, status } = await homelab();
      const firstPid = status().pid;
      const crash = toolNamed(source, 'crash');
      expect(await source.call(crash, {}, callContext())).toEqual({ text: 'the MCP server homelab stopped during the call', isError: true });
      expect(status()).toMatchObject({ state: 'failed', error: 'the server process exited (exit code 3)', tools: 0 });
      expect(status().stderrTail).toContain('crashing on purpose');
      await until(() => status().state === 'connected');
      expect(status().pid).not.toBe(firstPid);
      expect(await source.call(toolNamed(source, 'list_machines'), {}, callContext())).toMatchObject({ isError: false });
    });

    it('should wait twice as long before each restart while the server keeps dying', async () => {
      const { status, logger } = await homelab();
      for (let kill = 0; kill < 2; kill++) {
        process.kill(status().pid!, 'SIGKILL');
        await until(() => status().state === 'failed');
        expect(status().error).toBe('the server process exited (killed by SIGKILL)');
        await until(() => status().state === 'connected');
      }
      const waits = logger.lines.filter((line) => line.message.includes('trying again')).map((line) => line.fields.retryInMs);
      expect(waits).toEqual([200, 400]);
      expect(status().failures).toBe(2);
    });
  });
});
