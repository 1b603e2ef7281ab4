import { ThreadloomError } from '../../errors.js';
import { formatIssues } from '../../validation.js';
import type { ToolDefinition, ToolSource } from '../types.js';
import { checkMcpConfig, mcpServerNameSchema, mcpServerSchema, type McpServerConfig } from './config.js';
import { McpServerConnection, type McpServerOptions, type McpServerStatus, type McpTransportName } from './server.js';

export type McpServersOptions = Omit<McpServerOptions, 'restart'>;

export type McpTestResult =
  | { ok: true; transport: McpTransportName; tools: ToolDefinition[] }
  | { ok: false; error: string; stderrTail: string[] };

/**
 * All configured MCP servers: each is a ToolSource of its own (named for the server); this holds
 * them, starts and stops them together, and lets the admin add, change, remove and try one at run
 * time.
 */
export class McpServers {
  private readonly servers = new Map<string, McpServerConnection>();
  private readonly unsubscribe = new Map<string, () => void>();
  private readonly listeners = new Set<() => void>();
  private running = false;

  constructor(
    configs: Record<string, McpServerConfig>,
    private readonly options: McpServersOptions,
  ) {
    for (const [name, config] of Object.entries(configs)) this.add(name, config);
  }

  /** one source per server, in the order they were configured */
  sources(): ToolSource[] {
    return [...this.servers.values()];
  }

  get(name: string): ToolSource | undefined {
    return this.servers.get(name);
  }

  status(): McpServerStatus[] {
    return [...this.servers.values()].map((server) => server.status());
  }

  /** Tells `listener` when a server was added or removed, or changed its tools; returns the unsubscribe. */
  onChanged(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Connects every enabled server at once; resolves when each is connected or failed, never rejects. */
  async start(): Promise<void> {
    this.running = true;
    await Promise.allSettled([...this.servers.values()].map((server) => server.start()));
  }

  /** Closes every connection and ends every child process. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.allSettled([...this.servers.values()].map((server) => server.stop()));
  }

  /**
   * Adds a server or replaces one of the same name (the old connection is closed first), and
   * connects it when the servers are running. `config` is what the admin form or file says; a
   * problem with it throws `invalid` with the lines to show.
   */
  async put(name: string, config: unknown): Promise<McpServerStatus> {
    const parsed = parseServer(name, config, this.options.env);
    await this.remove(name, false);
    const server = this.add(name, parsed);
    this.notify();
    if (this.running) await server.start();
    return server.status();
  }

  /** Stops and forgets a server; false when there was none by that name. */
  async remove(name: string, notify = true): Promise<boolean> {
    const server = this.servers.get(name);
    if (!server) return false;
    this.servers.delete(name);
    this.unsubscribe.get(name)?.();
    this.unsubscribe.delete(name);
    await server.stop();
    if (notify) this.notify();
    return true;
  }

  /**
   * Connects to a server once without keeping it: its tools, or why it could not be reached in
   * plain words with the tail of its stderr. `name` places its working directory and names its tools.
   */
  async test(config: unknown, name = 'test'): Promise<McpTestResult> {
    let parsed: McpServerConfig;
    try {
      parsed = parseServer(name, config, this.options.env);
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error), stderrTail: [] };
    }
    const trial = new McpServerConnection(name, { ...parsed, enabled: true }, { ...this.options, restart: false });
    try {
      await trial.start();
      const status = trial.status();
      if (status.state === 'connected') return { ok: true, transport: status.transport, tools: trial.tools() };
      return { ok: false, error: status.error ?? 'the server could not be reached', stderrTail: status.stderrTail };
    } finally {
      await trial.stop();
    }
  }

  private add(name: string, config: McpServerConfig): McpServerConnection {
    const server = new McpServerConnection(name, config, this.options);
    this.servers.set(name, server);
    this.unsubscribe.set(name, server.onToolsChanged(() => this.notify()));
    return server;
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}

function parseServer(name: string, config: unknown, env: NodeJS.ProcessEnv): McpServerConfig {
  const problems: string[] = [];
  const named = mcpServerNameSchema.safeParse(name);
  if (!named.success) problems.push(...formatIssues(named.error, 'name'));
  const parsed = mcpServerSchema.safeParse(config);
  if (!parsed.success) problems.push(...formatIssues(parsed.error, `mcp.servers.${name}`));
  else problems.push(...checkMcpConfig({ [name]: parsed.data }, env));
  if (problems.length > 0 || !parsed.success) {
    throw new ThreadloomError('invalid', `invalid MCP server "${name}":\n  ${problems.join('\n  ')}`, { userMessage: problems.join('\n') });
  }
  return parsed.data;
}
