import { spawn, type ChildProcess } from 'node:child_process';
import type { ReadBuffer } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { mcpSdk } from './sdk.js';

/**
 * MCP over a child's stdin/stdout, written here rather than taken from the SDK because the SDK's
 * stdio transport always adds its own inherited variables to the child's environment and kills
 * only the direct child: we give the child exactly the environment we were told, and start it in
 * a process group of its own so that `npx`/`uvx` wrappers and their grandchildren go with it.
 */

/** after stdin closes, how long a server may take to exit on its own, then after SIGTERM */
const EXIT_GRACE_MS = 2_000;

export interface ChildTransportOptions {
  command: string;
  args: string[];
  /** the whole environment of the child, nothing inherited */
  env: Record<string, string>;
  cwd: string;
  onStderrLine: (line: string) => void;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ChildProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child: ChildProcess | undefined;
  // constructed only once a connection opens, when the SDK is loaded
  private readonly buffer: ReadBuffer = new (mcpSdk().ReadBuffer)();
  private stderrPartial = '';
  private exitInfo: ChildExit | undefined;
  private readonly exited: Promise<void>;
  private markExited!: () => void;

  constructor(private readonly options: ChildTransportOptions) {
    this.exited = new Promise((resolve) => (this.markExited = resolve));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** how the child ended, once it has */
  get exit(): ChildExit | undefined {
    return this.exitInfo;
  }

  start(): Promise<void> {
    if (this.child) throw new Error('the MCP child process was already started');
    const { command, args, env, cwd } = this.options;
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true, shell: false });
      this.child = child;
      child.once('error', (error: NodeJS.ErrnoException) => {
        const reason =
          error.code === 'ENOENT' ? new Error(`the command "${command}" was not found on the PATH it is given${env.PATH ? '' : ' (PATH is not set)'}`) : error;
        reject(reason);
        this.onerror?.(reason);
      });
      child.once('spawn', () => resolve());
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        // whatever the server left running in its group (an npx wrapper's real server) goes too
        signalGroup(child, 'SIGKILL');
      });
      child.once('close', () => {
        this.flushStderr();
        this.markExited();
        this.onclose?.();
      });
      child.stdin!.on('error', (error) => this.onerror?.(error));
      child.stdout!.on('data', (chunk: Buffer) => {
        this.buffer.append(chunk);
        for (;;) {
          let message: JSONRPCMessage | null;
          try {
            message = this.buffer.readMessage();
          } catch (error) {
            // a line on stdout that is not JSON-RPC: report it and go on with the next one
            this.onerror?.(error instanceof Error ? error : new Error(String(error)));
            continue;
          }
          if (!message) break;
          this.onmessage?.(message);
        }
      });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (text: string) => {
        const lines = (this.stderrPartial + text).split('\n');
        this.stderrPartial = lines.pop()!;
        for (const line of lines) this.options.onStderrLine(line.replace(/\r$/, ''));
      });
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || !stdin.writable || this.exitInfo) return Promise.reject(new Error('the MCP server process is not running'));
    return new Promise((resolve, reject) => {
      stdin.write(mcpSdk().serializeMessage(message), (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Asks the server to exit by closing its stdin, then SIGTERM, then SIGKILL, to its whole group. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) return;
    if (!this.exitInfo) {
      child.stdin?.end();
      if (!(await settlesWithin(this.exited, EXIT_GRACE_MS))) {
        signalGroup(child, 'SIGTERM');
        if (!(await settlesWithin(this.exited, EXIT_GRACE_MS))) signalGroup(child, 'SIGKILL');
      }
    }
    await this.exited;
    this.buffer.clear();
  }

  private flushStderr(): void {
    if (this.stderrPartial) this.options.onStderrLine(this.stderrPartial);
    this.stderrPartial = '';
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
