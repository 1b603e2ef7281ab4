import path from 'node:path';
import { z } from 'zod';

/**
 * `mcp.servers` in the config file, in the shape Claude Desktop and LibreChat users paste:
 * `command`/`args`/`env` for a child process, `url`/`headers` for a remote server, and LibreChat's
 * `type`. Secrets never sit in the file: `envFrom` passes our variables through by name and
 * `headersFromEnv` names the variable that holds a header's value.
 */

export const MCP_SERVER_NAME = /^[a-z0-9][a-z0-9_-]*$/;
export const MCP_SERVER_NAME_MAX = 32;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NEEDS = 'an MCP server needs a command to run (stdio) or a url (streamable HTTP or SSE)';
const envName = z.string().regex(ENV_NAME, 'an environment variable name such as GITHUB_TOKEN');

const common = {
  enabled: z.boolean().default(true),
  /** per tool call */
  timeoutMs: z.number().int().positive().default(60_000),
  /** to start (or reach) the server and list its tools */
  startupTimeoutMs: z.number().int().positive().default(20_000),
};

/** `cwd` is relative to the server's own folder under the data dir and may not leave it. */
const insideServerDir = z
  .string()
  .min(1)
  .refine((cwd) => !path.isAbsolute(cwd) && !path.normalize(cwd).split(path.sep).includes('..'), {
    message: 'a folder inside <dataDir>/mcp/<server>/, written relative to it (no leading / or ..)',
  });

const stdioServer = z.strictObject({
  type: z.literal('stdio').optional(),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  /** literal values, for settings that are not secret */
  env: z.record(envName, z.string()).default({}),
  /** names of Threadloom's own environment variables the server gets, with their values */
  envFrom: z.array(envName).default([]),
  cwd: insideServerDir.optional(),
  ...common,
});

const httpServer = z.strictObject({
  /** LibreChat's spelling; `http` is streamable HTTP */
  type: z.enum(['streamable-http', 'http', 'sse']).optional(),
  url: z.url({ protocol: /^https?$/, error: `${NEEDS}; url is an http(s) address` }),
  transport: z.enum(['streamable-http', 'sse']).optional(),
  headers: z.record(z.string().min(1), z.string()).default({}),
  /** header name → the name of the environment variable that holds its value */
  headersFromEnv: z.record(z.string().min(1), envName).default({}),
  ...common,
});

export type McpHttpTransport = 'streamable-http' | 'sse';

/** The branch is chosen by `command` or `url`, so a mistake is told against the shape the user meant. */
export const mcpServerSchema = z
  .preprocess(
    (value) =>
      value && typeof value === 'object' && !Array.isArray(value)
        ? { ...value, kind: 'command' in value ? 'stdio' : 'http' }
        : value,
    z.discriminatedUnion('kind', [stdioServer.extend({ kind: z.literal('stdio') }), httpServer.extend({ kind: z.literal('http') })], {
      error: NEEDS,
    }),
  )
  .transform((server) => {
    if (server.kind === 'stdio') {
      const { type: _type, ...rest } = server;
      return rest;
    }
    const { type, transport, ...rest } = server;
    const chosen: McpHttpTransport = transport ?? (type === 'sse' ? 'sse' : 'streamable-http');
    return { ...rest, transport: chosen };
  });

export type McpServerConfigInput = z.input<typeof mcpServerSchema>;
export type McpServerConfig = z.output<typeof mcpServerSchema>;
export type McpStdioConfig = Extract<McpServerConfig, { kind: 'stdio' }>;
export type McpHttpConfig = Extract<McpServerConfig, { kind: 'http' }>;

export const mcpServerNameSchema = z
  .string()
  .max(MCP_SERVER_NAME_MAX, `at most ${MCP_SERVER_NAME_MAX} characters`)
  .regex(MCP_SERVER_NAME, 'MCP server names are lowercase letters, digits, _ and - (such as homelab)');

export const mcpServersSchema = z
  .record(z.string(), mcpServerSchema)
  .superRefine((servers, ctx) => {
    for (const name of Object.keys(servers)) {
      const named = mcpServerNameSchema.safeParse(name);
      if (!named.success) ctx.addIssue({ code: 'custom', path: [name], message: named.error.issues[0]!.message });
    }
  })
  .default({});

/** `mcp` in the config file. */
export const mcpConfigSchema = z.strictObject({ servers: mcpServersSchema }).default({ servers: {} });
export type McpConfig = z.output<typeof mcpConfigSchema>;

/**
 * What the schema cannot know: that the named variables are set, and values that look like they
 * expect `${VAR}` to be filled in (we never expand them). One line per problem, naming the key.
 */
export function checkMcpConfig(servers: Record<string, McpServerConfig>, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const looksInterpolated = (key: string, value: string, fix: string) => {
    if (/\$\{[^}]+\}/.test(value)) problems.push(`${key}: "\${...}" is not expanded; ${fix}`);
  };
  for (const [name, server] of Object.entries(servers)) {
    const at = `mcp.servers.${name}`;
    if (server.kind === 'stdio') {
      for (const variable of server.envFrom) {
        if (env[variable] === undefined) problems.push(`${at}.envFrom: the variable ${variable} is not set`);
      }
      for (const [key, value] of Object.entries(server.env)) {
        looksInterpolated(`${at}.env.${key}`, value, `list the variable in ${at}.envFrom instead`);
      }
    } else {
      for (const [header, variable] of Object.entries(server.headersFromEnv)) {
        if (env[variable] === undefined) problems.push(`${at}.headersFromEnv.${header}: the variable ${variable} is not set`);
      }
      for (const [header, value] of Object.entries(server.headers)) {
        looksInterpolated(`${at}.headers.${header}`, value, `use ${at}.headersFromEnv.${header}: "<VARIABLE>" instead`);
      }
    }
  }
  return problems;
}

/** The server's own folder, `<dataDir>/mcp/<name>/`, and its working directory inside it. */
export function serverDirectories(dataDir: string, name: string, cwd: string | undefined): { home: string; cwd: string } {
  const home = path.resolve(dataDir, 'mcp', name);
  const resolved = path.resolve(home, cwd ?? '.');
  if (resolved !== home && !resolved.startsWith(home + path.sep)) {
    throw new Error(`mcp.servers.${name}.cwd: ${cwd} leaves ${home}`);
  }
  return { home, cwd: resolved };
}

/** The values our environment gives the servers by name (tokens, header secrets), for the log's redaction. */
export function mcpSecrets(servers: Record<string, McpServerConfig>, env: NodeJS.ProcessEnv): string[] {
  const names = Object.values(servers).flatMap((server) =>
    server.kind === 'stdio' ? server.envFrom : Object.values(server.headersFromEnv),
  );
  return [...new Set(names)].map((name) => env[name]).filter((value): value is string => Boolean(value));
}
