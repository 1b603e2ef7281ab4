import { describe, expect, it } from 'vitest';
import { mcpSecrets, mcpServersSchema } from '../../../../src/core/tools/mcp/config.js';
import { progressLine, toolOutput } from '../../../../src/core/tools/mcp/output.js';

describe('toolOutput', () => {
  it('should join the text parts and put everything else in one line each', () => {
    const output = toolOutput({
      content: [
        { type: 'text', text: 'two VMs' },
        { type: 'resource_link', name: 'vm.log', uri: 'file:///vm.log' },
        { type: 'resource', resource: { uri: 'file:///a.txt', mimeType: 'text/plain', text: 'x'.repeat(500) } },
        { type: 'audio', data: 'AAAA', mimeType: 'audio/wav' },
      ],
    });
    expect(output).toEqual({
      isError: false,
      text: 'two VMs\n[resource link: vm.log file:///vm.log]\n[resource file:///a.txt (text/plain), 500 characters, not shown]\n[audio audio/wav, 3 bytes, not shown]',
    });
  });

  it('should say when a tool returned nothing, and carry isError', () => {
    expect(toolOutput({ content: [], isError: true })).toEqual({ text: '(the tool returned nothing)', isError: true });
  });

  it('should give an old server’s toolResult as JSON', () => {
    expect(toolOutput({ toolResult: { up: true } })).toEqual({ text: '{"up":true}', isError: false });
  });
});

describe('progressLine', () => {
  it('should show the step and the server’s message', () => {
    expect(progressLine({ progress: 2, total: 5 })).toBe('2/5');
    expect(progressLine({ progress: 40, message: 'copying disks' })).toBe('copying disks (40)');
  });
});

describe('mcpSecrets', () => {
  it('should list the values servers get from our env by name, for redaction', () => {
    const servers = mcpServersSchema.parse({
      gh: { command: 'npx', envFrom: ['GITHUB_TOKEN', 'UNSET'] },
      remote: { url: 'https://mcp.example.com/mcp', headersFromEnv: { Authorization: 'REMOTE_AUTH' }, headers: { 'X-Team': 'lab' } },
    });
    expect(mcpSecrets(servers, { GITHUB_TOKEN: 'ghp_1', REMOTE_AUTH: 'Bearer 2', OTHER: 'x' })).toEqual(['ghp_1', 'Bearer 2']);
  });
});
