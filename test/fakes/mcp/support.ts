import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { McpLogger } from '../../../src/core/tools/mcp/server.js';
import type { ToolCallContext, ToolDefinition, ToolSource } from '../../../src/core/tools/types.js';

// by file URL, so the child resolves it from here and not from its own working directory
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const HOMELAB = path.join(import.meta.dirname, 'homelab-server.ts');

/** `mcp.servers.<name>` for the homelab fake, run by this Node with tsx. */
export function homelabServer(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { command: process.execPath, args: ['--import', TSX, HOMELAB], ...extra };
}

export const EVERYTHING = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');

export function dataDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'threadloom-mcp-'));
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
}

export function recordingLogger(): McpLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (message: string, fields: Record<string, unknown> = {}) => void lines.push({ level, message, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function callContext(signal = new AbortController().signal, onProgress?: (line: string) => void): ToolCallContext {
  const caller = { platform: 'test', userId: 'u1', userName: 'ada', conversationId: 1, experienceId: 1, admin: false };
  return { caller, signal, onProgress };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** The source's tool by its name at the server; fails the test, naming what there is, when it is missing. */
export function toolNamed(source: ToolSource, sourceName: string): ToolDefinition {
  const found = source.tools().find((t) => t.sourceName === sourceName);
  if (!found) throw new Error(`no tool ${sourceName} in ${source.tools().map((t) => t.sourceName).join(', ')}`);
  return found;
}
