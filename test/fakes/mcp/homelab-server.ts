import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

/**
 * A small MCP server for tests, over stdio: a homelab's machines (one read-only tool, one
 * destructive one), and tools that misbehave on purpose: one that never answers, one that kills
 * the server mid-call, one that adds a tool at run time (and so tells the client its list
 * changed), and ones that show the server's environment and working directory.
 */

const machines = ['nas', 'pi-hole', 'proxmox'];
const server = new McpServer({ name: 'homelab', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });

server.registerTool(
  'list_machines',
  { description: 'Lists the machines in the homelab', annotations: { readOnlyHint: true } },
  async () => ({ content: [{ type: 'text', text: machines.join('\n') }] }),
);

server.registerTool(
  'reboot_machine',
  {
    description: 'Reboots one machine',
    inputSchema: { name: z.string().describe('the machine') },
    annotations: { destructiveHint: true },
  },
  async ({ name }) =>
    machines.includes(name)
      ? { content: [{ type: 'text', text: `rebooting ${name}` }] }
      : { content: [{ type: 'text', text: `no machine named ${name}` }], isError: true },
);

server.registerTool('hang', { description: 'Never answers' }, () => new Promise(() => {}));

server.registerTool('crash', { description: 'Ends the server in the middle of the call' }, async () => {
  console.error('crashing on purpose');
  setTimeout(() => process.exit(3), 50);
  return new Promise(() => {});
});

server.registerTool(
  'add_tool',
  { description: 'Adds a tool that answers with its own name', inputSchema: { name: z.string() } },
  async ({ name }) => {
    server.registerTool(name, { description: `added at run time` }, async () => ({ content: [{ type: 'text', text: name }] }));
    return { content: [{ type: 'text', text: `added ${name}` }] };
  },
);

server.registerTool(
  'read_env',
  { description: 'One environment variable of the server', inputSchema: { name: z.string() }, annotations: { readOnlyHint: true } },
  async ({ name }) => ({ content: [{ type: 'text', text: process.env[name] ?? '(unset)' }] }),
);

server.registerTool('where', { description: 'The working directory', annotations: { readOnlyHint: true } }, async () => ({
  content: [{ type: 'text', text: process.cwd() }],
}));

server.registerTool('picture', { description: 'An image and structured data' }, async () => ({
  content: [{ type: 'image', data: Buffer.alloc(3000).toString('base64'), mimeType: 'image/png' }],
  structuredContent: { machines: machines.length },
}));

await server.connect(new StdioServerTransport());
console.error(`homelab server ready (pid ${process.pid})`);
