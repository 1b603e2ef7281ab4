import { describe, expect, it } from 'vitest';
import { checkMcpConfig, mcpServersSchema, serverDirectories } from '../../../../src/core/tools/mcp/config.js';
import { MODEL_TOOL_NAME, modelToolName } from '../../../../src/core/tools/mcp/names.js';
import { toolDefinitions } from '../../../../src/core/tools/mcp/output.js';
import { formatIssues } from '../../../../src/core/validation.js';

function problems(servers: unknown): string[] {
  const parsed = mcpServersSchema.safeParse(servers);
  return parsed.success ? checkMcpConfig(parsed.data, { GITHUB_TOKEN: 'ghp_x' }) : formatIssues(parsed.error, 'mcp.servers');
}

describe('mcpServersSchema', () => {
  it('should take what Claude Desktop and LibreChat users paste', () => {
    const servers = mcpServersSchema.parse({
      github: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], envFrom: ['GITHUB_TOKEN'] },
      files: { type: 'stdio', command: 'uvx', args: ['mcp-server-fetch'], env: { LOG_LEVEL: 'info' } },
      remote: { type: 'http', url: 'https://mcp.example.com/mcp', headersFromEnv: { Authorization: 'REMOTE_AUTH' } },
      legacy: { type: 'sse', url: 'https://old.example.com/sse', enabled: false },
    });
    expect(servers.github).toEqual({
      kind: 'stdio',
      command: 'npx',
      args: ['-y', '@modelcontextprotocol/server-github'],
      env: {},
      envFrom: ['GITHUB_TOKEN'],
      enabled: true,
      timeoutMs: 60_000,
      startupTimeoutMs: 20_000,
    });
    expect(servers.remote).toMatchObject({ kind: 'http', transport: 'streamable-http', headers: {}, headersFromEnv: { Authorization: 'REMOTE_AUTH' } });
    expect(servers.legacy).toMatchObject({ kind: 'http', transport: 'sse', enabled: false });
  });

  it('should name the key and the fix for each mistake', () => {
    expect(problems({ GitHub: { command: 'npx' } })).toEqual(['mcp.servers.GitHub: MCP server names are lowercase letters, digits, _ and - (such as homelab)']);
    expect(problems({ ['a'.repeat(33)]: { command: 'npx' } })).toEqual([`mcp.servers.${'a'.repeat(33)}: at most 32 characters`]);
    expect(problems({ x: { command: 'npx', url: 'https://a.example' } })).toEqual(['mcp.servers.x: unknown key "url" (check the spelling)']);
    expect(problems({ x: { args: [] } })).toEqual([
      'mcp.servers.x.url: an MCP server needs a command to run (stdio) or a url (streamable HTTP or SSE); url is an http(s) address',
      'mcp.servers.x: unknown key "args" (check the spelling)',
    ]);
    expect(problems({ x: { command: 'npx', cwd: '../other' } })).toEqual([
      'mcp.servers.x.cwd: a folder inside <dataDir>/mcp/<server>/, written relative to it (no leading / or ..)',
    ]);
    expect(problems({ x: { command: 'npx', envFrom: ['GITHUB_TOKEN', 'MISSING_TOKEN'] } })).toEqual([
      'mcp.servers.x.envFrom: the variable MISSING_TOKEN is not set',
    ]);
    expect(problems({ x: { url: 'https://a.example/mcp', headersFromEnv: { Authorization: 'NOPE' }, headers: { 'X-Key': '${KEY}' } } })).toEqual([
      'mcp.servers.x.headersFromEnv.Authorization: the variable NOPE is not set',
      'mcp.servers.x.headers.X-Key: "${...}" is not expanded; use mcp.servers.x.headersFromEnv.X-Key: "<VARIABLE>" instead',
    ]);
  });

  it('should keep the working directory inside the server folder', () => {
    expect(serverDirectories('/data', 'lab', 'work/sub')).toEqual({ home: '/data/mcp/lab', cwd: '/data/mcp/lab/work/sub' });
    expect(() => serverDirectories('/data', 'lab', '../../etc')).toThrow(/leaves \/data\/mcp\/lab/);
  });
});

describe('modelToolName', () => {
  it('should join server and tool, and replace what providers refuse', () => {
    expect(modelToolName('proxmox', 'list_vms', new Set())).toBe('proxmox__list_vms');
    expect(modelToolName('fs', 'read.file', new Set())).toBe('fs__read_file');
  });

  it('should cut a long name with a hash that stays the same, and keep names apart', () => {
    const long = modelToolName('homelab', 'x'.repeat(80), new Set());
    expect(long).toMatch(MODEL_TOOL_NAME);
    expect(long).toHaveLength(64);
    expect(modelToolName('homelab', 'x'.repeat(80), new Set())).toBe(long);
    const defs = toolDefinitions('fs', [
      { name: 'read.file', inputSchema: { type: 'object' } },
      { name: 'read_file', inputSchema: { type: 'object' } },
    ]);
    expect(defs[0]!.name).toBe('fs__read_file');
    expect(defs[1]!.name).toMatch(/^fs__read_file_[0-9a-f]{8}$/);
  });
});
