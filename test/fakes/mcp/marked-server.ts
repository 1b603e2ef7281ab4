import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

/**
 * An MCP server over stdio whose words are markup on purpose: a tool description and a schema
 * description with `<script>`, and a stderr line with an `<img onerror>`. The admin must show
 * them as text. With MARKED_TOKEN set it prints that to stderr, as careless servers do.
 */

const server = new McpServer({ name: 'marked', version: '1.0.0' });

server.registerTool(
  'shout',
  {
    description: '<script>alert("tool")</script> Says it loudly',
    inputSchema: { text: z.string().describe('<b>what</b> to say') },
    annotations: { readOnlyHint: true },
  },
  async ({ text }) => ({ content: [{ type: 'text', text: text.toUpperCase() }] }),
);

console.error('<img src=x onerror=alert("stderr")> marked server starting');
// a careless server that prints what it was given
if (process.env.MARKED_TOKEN) console.error(`using token ${process.env.MARKED_TOKEN}`);
await server.connect(new StdioServerTransport());
