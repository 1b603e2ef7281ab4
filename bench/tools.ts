/**
 * What tools cost on top of what they do.
 *   (a) the loop: from a tool's result to the next provider request reaching the model server,
 *       against the bare SDK's own request time to the same server in the same run
 *   (b) one MCP call over stdio through Threadloom's connection and the tool registry, against the
 *       MCP SDK's bare client calling the same server
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import OpenAI from 'openai';
import { loadConfig } from '../src/core/config.js';
import { silentLogger } from '../src/core/log.js';
import { startRuntime } from '../src/core/runtime.js';
import { ToolRegistry } from '../src/core/tools/registry.js';
import { McpServers } from '../src/core/tools/mcp/source.js';
import type { ToolCallContext, ToolDefinition, ToolOutput, ToolSource } from '../src/core/tools/types.js';
import { startFakeOpenAI } from '../test/fakes/providers.js';
import { NullReply, message } from './chat.js';
import { figure, summarise } from './stats.js';

const TURNS = 200;
const MCP_CALLS = 300;
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const HOMELAB = path.join(ROOT, 'test/fakes/mcp/homelab-server.ts');

/** A tool that answers at once and notes when its result left it. */
class Stopwatch implements ToolSource {
  readonly name = 'bench';
  resultAt = 0;
  tools(): ToolDefinition[] {
    return [{ name: 'bench__ping', title: 'bench › ping', source: 'bench', sourceName: 'ping', readOnly: true, description: 'answers pong', inputSchema: { type: 'object', properties: {} } }];
  }
  async call(): Promise<ToolOutput> {
    this.resultAt = performance.now();
    return { text: 'pong', isError: false };
  }
}

async function loopOverhead(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-bench-tools-'));
  // the server notes when each chat request arrives, on this process's clock
  const arrivals: number[] = [];
  const fake = await startFakeOpenAI({ defaultAnswer: () => (arrivals.push(performance.now()), 'pong it is') });
  const config = loadConfig({ THREADLOOM_DATA_DIR: dir, THREADLOOM_DEFAULT_MODEL: 'openai/gpt-4o-mini', OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: fake.url });
  const runtime = await startRuntime({ ...config, limits: { userTurnsPerMinute: 1_000_000 } }, { log: silentLogger });
  const stopwatch = new Stopwatch();
  runtime.deps.tools!.put(stopwatch);
  await runtime.deps.experiences.update('general', { tools: { sources: ['bench'] }, contextPolicy: { maxMessages: 20, tokenBudget: null, summarize: false } });
  const client = new OpenAI({ apiKey: 'sk-bench', baseURL: fake.url, maxRetries: 0 });
  const reply = new NullReply();

  const gaps: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < TURNS + 20; i++) {
    // the bare SDK: from create() to the request reaching the server
    arrivals.length = 0;
    fake.script({});
    const sent = performance.now();
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'ping' }] });
    for await (const _ of stream) { /* drain */ }
    const bareMs = arrivals[0]! - sent;

    arrivals.length = 0;
    fake.script({ toolCalls: [{ id: `c${i}`, name: 'bench__ping', arguments: {} }] }, {});
    await runtime.engine.handle(message('ada', 'ping'), reply);
    // the answer's request after the tool's result: the last arrival of the turn (a title call may precede)
    const gap = arrivals.at(-1)! - stopwatch.resultAt;
    if (i >= 20) {
      gaps.push(gap);
      bare.push(bareMs);
    }
  }
  const g = summarise(gaps);
  const b = summarise(bare);
  figure('tool_turns', TURNS, 'turns', 0);
  figure('result_to_next_request_median', g.median, 'ms');
  figure('result_to_next_request_p99', g.p99, 'ms');
  figure('bare_sdk_request_median', b.median, 'ms');
  figure('loop_added_median', g.median - b.median, 'ms');
  figure('loop_added_p99', g.p99 - b.median, 'ms');
  await runtime.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
}

async function mcpCalls(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-bench-mcp-'));
  const servers = new McpServers({}, { dataDir: dir, env: process.env, logger: silentLogger });
  await servers.put('homelab', { command: process.execPath, args: ['--import', TSX, HOMELAB] });
  await servers.start();
  const registry = new ToolRegistry();
  for (const source of servers.sources()) registry.put(source);
  const tool = registry.all().find((t) => t.sourceName === 'list_machines');
  if (!tool) throw new Error(`the homelab server did not connect: ${JSON.stringify(servers.status())}`);
  const context: ToolCallContext = {
    caller: { platform: 'bench', userId: 'ada', userName: 'Ada', conversationId: 1, experienceId: 1, admin: false },
    signal: new AbortController().signal,
  };
  const limits = { timeoutMs: 10_000, resultMaxChars: 16_000 };

  const bareClient = new Client({ name: 'bench', version: '1' });
  await bareClient.connect(new StdioClientTransport({ command: process.execPath, args: ['--import', TSX, HOMELAB], stderr: 'ignore' }));

  const through: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < MCP_CALLS + 30; i++) {
    let start = performance.now();
    await bareClient.callTool({ name: 'list_machines', arguments: {} });
    const d = performance.now() - start;
    start = performance.now();
    const run = await registry.run(tool, {}, context, limits);
    const t = performance.now() - start;
    if (run.status !== 'ok') throw new Error(`call failed: ${run.output.text}`);
    if (i >= 30) {
      direct.push(d);
      through.push(t);
    }
  }
  const a = summarise(direct);
  const b = summarise(through);
  figure('mcp_calls', MCP_CALLS, 'calls', 0);
  figure('mcp_bare_client_median', a.median, 'ms');
  figure('mcp_bare_client_p99', a.p99, 'ms');
  figure('mcp_threadloom_median', b.median, 'ms');
  figure('mcp_threadloom_p99', b.p99, 'ms');
  figure('mcp_added_median', b.median - a.median, 'ms');
  await bareClient.close();
  await servers.stop();
  rmSync(dir, { recursive: true, force: true });
}

await loopOverhead();
await mcpCalls();
