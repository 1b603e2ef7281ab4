import { mkdirSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../../log.js';
import type { ToolCallContext, ToolDefinition, ToolOutput, ToolSource } from '../types.js';
import { ChildProcessTransport, type ChildExit } from './child-transport.js';
import { loadMcpSdk, mcpSdk, sdkIfLoaded } from './sdk.js';
import { serverDirectories, type McpHttpConfig, type McpHttpTransport, type McpServerConfig, type McpStdioConfig } from './config.js';
import { progressLine, toolDefinitions, toolOutput } from './output.js';

/** lines of a server's stderr kept for its status */
export const STDERR_TAIL_LINES = 50;
/** characters of one stderr line kept for the status (the log gets it whole) */
export const STDERR_LINE_MAX = 1_000;
/** variables every child gets besides the ones listed: PATH so `npx`/`uvx` resolve, HOME for their caches */
export const BASE_CHILD_ENV = ['PATH', 'HOME'] as const;

export type McpServerState = 'connecting' | 'connected' | 'failed' | 'disabled';
export type McpTransportName = 'stdio' | McpHttpTransport;

export interface McpServerStatus {
  name: string;
  transport: McpTransportName;
  state: McpServerState;
  /** why it is not connected, in plain words */
  error: string | null;
  stderrTail: string[];
  tools: number;
  connectedAt: Date | null;
  /** the child's process id, for a stdio server that runs */
  pid: number | null;
  /** attempts that failed since it last stayed up */
  failures: number;
  nextAttemptAt: Date | null;
}

/** Restarts of a server that died or could not start: first, doubling up to max, reset once it stayed up. */
export interface McpBackoff {
  firstMs: number;
  maxMs: number;
  stableMs: number;
}
export const DEFAULT_BACKOFF: McpBackoff = { firstMs: 1_000, maxMs: 60_000, stableMs: 60_000 };

/** The app's logger; a `debug` level, when it has one, takes the servers' stderr lines. */
export type McpLogger = Logger & { debug?: (message: string, fields?: Record<string, unknown>) => void };

export interface McpServerOptions {
  dataDir: string;
  /** our environment, from which `envFrom` and `headersFromEnv` take values */
  env: NodeJS.ProcessEnv;
  logger: McpLogger;
  backoff?: McpBackoff;
  /** false for a one-off test connection */
  restart?: boolean;
}

const CLIENT_INFO = { name: 'threadloom', version: '0.1.0' };

class Deadline extends Error {}

/**
 * One MCP server as a source of tools: connects, lists its tools (again when it says they
 * changed), runs calls, and when it dies or cannot be reached says why and tries again later.
 * Nothing here throws to the caller: a server that fails is a state.
 */
export class McpServerConnection implements ToolSource {
  private state: McpServerState = 'connecting';
  private error: string | null = null;
  private readonly stderr: string[] = [];
  private client: Client | undefined;
  private transport: Transport | undefined;
  private transportName: McpTransportName;
  private definitions: ToolDefinition[] = [];
  private connectedAt: Date | null = null;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private nextAttemptAt: Date | null = null;
  /** bumped by every attempt and by stop, so what an older attempt finishes is dropped */
  private generation = 0;
  private readonly listeners = new Set<() => void>();
  private readonly backoff: McpBackoff;
  private started = false;
  /** the client being opened, and whether it said its tools changed before it was ours */
  private opening: { client: Client; changed: boolean } | undefined;

  constructor(
    readonly name: string,
    readonly config: McpServerConfig,
    private readonly options: McpServerOptions,
  ) {
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.transportName = config.kind === 'stdio' ? 'stdio' : config.transport;
    if (!config.enabled) this.state = 'disabled';
  }

  /** Connects once; a failure becomes the state (and a retry later), never a rejection. */
  async start(): Promise<void> {
    if (!this.config.enabled) {
      this.state = 'disabled';
      return;
    }
    if (this.started) return;
    this.started = true;
    await this.attempt();
  }

  /** Closes the connection and ends the child (and its group); no retry after this. */
  async stop(): Promise<void> {
    this.started = false;
    this.generation++;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.nextAttemptAt = null;
    const hadTools = this.definitions.length > 0;
    await this.closeCurrent();
    this.definitions = [];
    this.connectedAt = null;
    this.state = this.config.enabled ? 'failed' : 'disabled';
    this.error = this.config.enabled ? 'stopped' : null;
    if (hadTools) this.notify();
  }

  tools(): ToolDefinition[] {
    return this.state === 'connected' ? this.definitions : [];
  }

  onToolsChanged(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): McpServerStatus {
    return {
      name: this.name,
      transport: this.transportName,
      state: this.state,
      error: this.error,
      stderrTail: [...this.stderr],
      tools: this.tools().length,
      connectedAt: this.connectedAt,
      pid: this.transport instanceof ChildProcessTransport && !this.transport.exit ? (this.transport.pid ?? null) : null,
      failures: this.failures,
      nextAttemptAt: this.nextAttemptAt,
    };
  }

  async call(tool: ToolDefinition, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolOutput> {
    const client = this.client;
    if (!client || this.state !== 'connected') {
      return { isError: true, text: `the MCP server ${this.name} is not connected${this.error ? `: ${this.error}` : ''}` };
    }
    const { timeoutMs } = this.config;
    const generation = this.generation;
    try {
      const result = await client.callTool({ name: tool.sourceName, arguments: args }, undefined, {
        signal: context.signal,
        timeout: timeoutMs,
        onprogress: context.onProgress ? (progress) => context.onProgress!(progressLine(progress)) : undefined,
      });
      return toolOutput(result);
    } catch (error) {
      if (this.config.kind === 'http' && this.client === client && unreachable(error)) {
        const why = `the server could not be reached: ${plainReason(error)}`;
        void this.dropped(generation, why);
        return { isError: true, text: `the MCP server ${this.name} ${why.slice('the server '.length)}` };
      }
      return { isError: true, text: this.callFailure(tool, error, context.signal, client) };
    }
  }

  private callFailure(tool: ToolDefinition, error: unknown, signal: AbortSignal, client: Client): string {
    if (signal.aborted) return `the call to ${tool.title} was stopped before it finished`;
    if (error instanceof mcpSdk().McpError && error.code === mcpSdk().ErrorCode.RequestTimeout) {
      return `the tool ${tool.title} timed out after ${this.config.timeoutMs / 1000} s`;
    }
    if ((error instanceof mcpSdk().McpError && error.code === mcpSdk().ErrorCode.ConnectionClosed) || this.client !== client) {
      return `the MCP server ${this.name} stopped during the call`;
    }
    return `the MCP server ${this.name} answered with an error: ${messageOf(error)}`;
  }

  private async attempt(): Promise<void> {
    const generation = ++this.generation;
    this.state = 'connecting';
    this.nextAttemptAt = null;
    let opened: { client: Client; transport: Transport; tools: Tool[] };
    try {
      await loadMcpSdk();
      opened = await this.open();
    } catch (error) {
      if (generation !== this.generation) return;
      this.failed(this.startFailure(error));
      return;
    }
    if (generation !== this.generation) {
      await opened.client.close().catch(() => {});
      return;
    }
    const { client, transport, tools } = opened;
    // a server may add tools as soon as it is initialized, while we were still listing them
    const changedWhileOpening = this.opening?.client === client && this.opening.changed;
    this.opening = undefined;
    this.client = client;
    this.transport = transport;
    client.onclose = () => void this.dropped(generation);
    this.definitions = toolDefinitions(this.name, tools);
    this.state = 'connected';
    this.error = null;
    this.connectedAt = new Date();
    this.options.logger.info('MCP server connected', { mcpServer: this.name, transport: this.transportName, tools: tools.length });
    this.notify();
    if (changedWhileOpening) void this.refresh(client);
  }

  /** Starts the transport, initializes, lists the tools, within `startupTimeoutMs`. */
  private async open(): Promise<{ client: Client; transport: Transport; tools: Tool[] }> {
    const { config } = this;
    if (config.kind === 'stdio') return this.openWith(this.stdioTransport(config));
    if (config.transport === 'sse') return this.openWith(this.httpTransport(config, 'sse'));
    try {
      return await this.openWith(this.httpTransport(config, 'streamable-http'));
    } catch (error) {
      // a server that only speaks the older HTTP+SSE answers the streamable POST with a 4xx
      const status = error instanceof mcpSdk().StreamableHTTPError ? error.code : undefined;
      if (status === undefined || status < 400 || status >= 500 || status === 401 || status === 403) throw error;
      try {
        return await this.openWith(this.httpTransport(config, 'sse'));
      } catch (sseError) {
        throw new Error(`streamable HTTP: ${plainReason(error)}; SSE: ${plainReason(sseError)}`);
      }
    }
  }

  private async openWith(transport: Transport): Promise<{ client: Client; transport: Transport; tools: Tool[] }> {
    const { Client, ToolListChangedNotificationSchema } = mcpSdk();
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => this.refresh(client));
    this.opening = { client, changed: false };
    const { startupTimeoutMs } = this.config;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Deadline(`the server did not answer within ${startupTimeoutMs / 1000} s of starting`)), startupTimeoutMs);
    });
    try {
      const work = (async () => {
        await client.connect(transport, { timeout: startupTimeoutMs });
        return listAllTools(client, startupTimeoutMs);
      })();
      work.catch(() => {});
      const tools = await Promise.race([work, deadline]);
      return { client, transport, tools };
    } catch (error) {
      await client.close().catch(() => {});
      await transport.close().catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private stdioTransport(config: McpStdioConfig): ChildProcessTransport {
    const { cwd } = serverDirectories(this.options.dataDir, this.name, config.cwd);
    mkdirSync(cwd, { recursive: true });
    const transport = new ChildProcessTransport({
      command: config.command,
      args: config.args,
      env: childEnvironment(config, this.options.env),
      cwd,
      onStderrLine: (line) => this.stderrLine(line),
    });
    this.transport = transport;
    return transport;
  }

  private httpTransport(config: McpHttpConfig, kind: McpHttpTransport): Transport {
    this.transportName = kind;
    const requestInit: RequestInit = { headers: httpHeaders(config, this.options.env) };
    const url = new URL(config.url);
    const { SSEClientTransport, StreamableHTTPClientTransport } = mcpSdk();
    const transport = kind === 'sse' ? new SSEClientTransport(url, { requestInit }) : new StreamableHTTPClientTransport(url, { requestInit });
    this.transport = transport;
    return transport;
  }

  /** Why an attempt failed: the child's exit says more than the closed connection it caused. */
  private startFailure(error: unknown): string {
    if (error instanceof Deadline) return error.message;
    const exit = this.transport instanceof ChildProcessTransport ? this.transport.exit : undefined;
    if (exit && isMcpError(error, 'ConnectionClosed')) {
      return `the server process exited (${exitWords(exit)}) before it answered`;
    }
    return plainReason(error);
  }

  private stderrLine(line: string): void {
    this.stderr.push(line.length > STDERR_LINE_MAX ? `${line.slice(0, STDERR_LINE_MAX)}…` : line);
    if (this.stderr.length > STDERR_TAIL_LINES) this.stderr.shift();
    const { logger } = this.options;
    (logger.debug ?? logger.info).call(logger, line, { mcpServer: this.name, stream: 'stderr' });
  }

  private async refresh(client: Client): Promise<void> {
    if (this.opening?.client === client) this.opening.changed = true;
    if (client !== this.client) return;
    try {
      const tools = await listAllTools(client, this.config.timeoutMs);
      if (client !== this.client) return;
      this.definitions = toolDefinitions(this.name, tools);
      this.options.logger.info('MCP server changed its tools', { mcpServer: this.name, tools: tools.length });
      this.notify();
    } catch (error) {
      this.options.logger.warn('MCP server tool list could not be refreshed', { mcpServer: this.name, error: plainReason(error) });
    }
  }

  /**
   * The connection closed without our asking: the child died, or the peer went away (an HTTP
   * server tells us only by failing a request, `reason`).
   */
  private async dropped(generation: number, reason?: string): Promise<void> {
    if (generation !== this.generation || this.state !== 'connected') return;
    const exit = this.transport instanceof ChildProcessTransport ? this.transport.exit : undefined;
    const why =
      reason ??
      (exit ? `the server process exited (${exitWords(exit)})` : 'the connection to the server closed');
    this.options.logger.warn('MCP server stopped', { mcpServer: this.name, why, stderrTail: this.stderr.slice(-10) });
    if (this.connectedAt && Date.now() - this.connectedAt.getTime() >= this.backoff.stableMs) this.failures = 0;
    this.client = undefined;
    const hadTools = this.definitions.length > 0;
    this.definitions = [];
    this.failed(why);
    if (hadTools) this.notify();
    await this.closeCurrent();
  }

  private failed(why: string): void {
    this.state = 'failed';
    this.error = why;
    this.connectedAt = null;
    this.failures++;
    if (this.options.restart === false) return;
    const delay = Math.min(this.backoff.firstMs * 2 ** (this.failures - 1), this.backoff.maxMs);
    this.nextAttemptAt = new Date(Date.now() + delay);
    this.options.logger.warn('MCP server not connected; trying again later', { mcpServer: this.name, why, retryInMs: delay });
    const generation = this.generation;
    this.retryTimer = setTimeout(() => {
      if (generation === this.generation) void this.attempt();
    }, delay);
    this.retryTimer.unref();
  }

  private async closeCurrent(): Promise<void> {
    const { client, transport } = this;
    this.client = undefined;
    if (client) await client.close().catch(() => {});
    if (transport) await transport.close().catch(() => {});
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}

/** Every page of the server's tool list. */
async function listAllTools(client: Client, timeoutMs: number): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeoutMs });
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

/** Exactly PATH and HOME from us, the variables listed by name, and the literal ones. */
export function childEnvironment(config: McpStdioConfig, env: NodeJS.ProcessEnv): Record<string, string> {
  const child: Record<string, string> = {};
  for (const name of [...BASE_CHILD_ENV, ...config.envFrom]) {
    const value = env[name];
    if (value !== undefined) child[name] = value;
  }
  return { ...child, ...config.env };
}

export function httpHeaders(config: McpHttpConfig, env: NodeJS.ProcessEnv): Record<string, string> {
  const headers = { ...config.headers };
  for (const [header, variable] of Object.entries(config.headersFromEnv)) {
    const value = env[variable];
    if (value !== undefined) headers[header] = value;
  }
  return headers;
}

/**
 * An HTTP server that is gone (the request never got an answer), a gateway in front of it that
 * says so, or a server that forgot our session after a restart: connect again.
 */
function unreachable(error: unknown): boolean {
  const status = httpStatus(error);
  if (status !== undefined) return status === 404 || status === 502 || status === 503 || status === 504;
  return error instanceof TypeError && /fetch failed/i.test(error.message);
}

function exitWords(exit: ChildExit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An SDK or network error as words for the admin page. */
function plainReason(error: unknown): string {
  if (isMcpError(error, 'ConnectionClosed')) {
    return 'the server closed the connection while starting (see its stderr)';
  }
  if (isMcpError(error, 'RequestTimeout')) return 'the server did not answer in time';
  const status = httpStatus(error);
  if (status !== undefined) return `the server answered HTTP ${status}: ${messageOf(error)}`;
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${messageOf(error)}${cause}`;
}

/** The HTTP status of a streamable-HTTP transport error; undefined for anything else. */
function httpStatus(error: unknown): number | undefined {
  const sdk = sdkIfLoaded();
  return sdk !== undefined && error instanceof sdk.StreamableHTTPError ? error.code : undefined;
}

/** An MCP error with this code; false for anything else, also before the SDK was loaded. */
function isMcpError(error: unknown, code: 'ConnectionClosed' | 'RequestTimeout'): boolean {
  const sdk = sdkIfLoaded();
  return sdk !== undefined && error instanceof sdk.McpError && error.code === sdk.ErrorCode[code];
}
