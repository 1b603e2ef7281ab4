import { ThreadloomError } from '../../errors.js';
import { mcpServerNameSchema } from './config.js';

/**
 * An MCP server as the admin's form sends it (strings, one item a line), read into the
 * `mcp.servers.<name>` shape plus its secret values apart, with one message per field. The
 * schema's own messages (from `McpServers.put`) are placed beside their field by `placeProblems`.
 */

export const MCP_FORM_FIELDS = [
  'name', 'kind', 'command', 'args', 'env', 'envFrom', 'cwd', 'url', 'transport', 'headers', 'headersFromEnv', 'timeoutMs', 'enabled',
] as const;
export type McpServerForm = Record<(typeof MCP_FORM_FIELDS)[number], string>;
export type McpServerErrors = Partial<Record<(typeof MCP_FORM_FIELDS)[number] | 'form', string>>;

export const MCP_HTTP_TRANSPORTS = ['streamable-http', 'sse'] as const;

export interface McpServerInput {
  name: string;
  kind: 'stdio' | 'http';
  enabled: boolean;
  /** the server's settings without its literal env and header values */
  config: Record<string, unknown>;
  /** literal values typed in the form; '' for a saved name keeps the saved value */
  env: Record<string, string>;
  headers: Record<string, string>;
}

export const EMPTY_MCP_FORM: McpServerForm = {
  name: '', kind: 'command', command: '', args: '', env: '', envFrom: '', cwd: '', url: '', transport: '', headers: '', headersFromEnv: '', timeoutMs: '', enabled: 'on',
};

/** Only the known fields, as strings; a missing checkbox is ''. */
export function readMcpServerForm(body: unknown): McpServerForm {
  const raw = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  return Object.fromEntries(MCP_FORM_FIELDS.map((f) => [f, typeof raw[f] === 'string' ? raw[f] : ''])) as McpServerForm;
}

const lines = (text: string): string[] => text.split(/\r?\n/).map((l) => l.trimEnd()).filter((l) => l.trim() !== '');

/** `KEY=value` (or `Name: value`) lines as a record; the first bad line is the field's message. */
function pairs(text: string, separator: '=' | ':', example: string): { values: Record<string, string>; error?: string } {
  const values: Record<string, string> = {};
  for (const [i, line] of lines(text).entries()) {
    const at = line.indexOf(separator);
    const key = at > 0 ? line.slice(0, at).trim() : '';
    if (!key) return { values, error: `line ${i + 1}: write ${example}, one a line` };
    values[key] = line.slice(at + 1).replace(/^ /, '');
  }
  return { values };
}

/** The form as input, or a message per field (the name, the lines' shape, the numbers). */
export function parseMcpServerForm(form: McpServerForm): { input: McpServerInput | null; errors: McpServerErrors } {
  const errors: McpServerErrors = {};
  const name = form.name.trim();
  const named = mcpServerNameSchema.safeParse(name);
  if (!name) errors.name = 'give the server a name, such as homelab';
  else if (!named.success) errors.name = named.error.issues[0]!.message;
  const kind = form.kind === 'url' ? 'http' : form.kind === 'command' ? 'stdio' : null;
  if (!kind) errors.kind = 'pick a command to run or a URL';
  let timeoutMs: number | undefined;
  if (form.timeoutMs.trim() !== '') {
    const n = Number(form.timeoutMs.trim());
    if (!Number.isInteger(n) || n < 1_000 || n > 600_000) errors.timeoutMs = 'empty, or a whole number of milliseconds from 1000 to 600000';
    else timeoutMs = n;
  }
  const config: Record<string, unknown> = {};
  let env: Record<string, string> = {};
  let headers: Record<string, string> = {};
  if (kind === 'stdio') {
    if (!form.command.trim()) errors.command = 'the command to run, such as npx or /usr/local/bin/my-server';
    config.command = form.command.trim();
    config.args = lines(form.args);
    config.envFrom = form.envFrom.split(/[\s,]+/).filter(Boolean);
    if (form.cwd.trim()) config.cwd = form.cwd.trim();
    const parsed = pairs(form.env, '=', 'KEY=value');
    if (parsed.error) errors.env = parsed.error;
    env = parsed.values;
  } else if (kind === 'http') {
    if (!form.url.trim()) errors.url = 'the server’s address, such as http://127.0.0.1:8931/mcp';
    config.url = form.url.trim();
    if (form.transport) {
      if (!(MCP_HTTP_TRANSPORTS as readonly string[]).includes(form.transport)) errors.transport = 'streamable HTTP, SSE, or empty to try both';
      else config.transport = form.transport;
    }
    const parsed = pairs(form.headers, ':', 'Name: value');
    if (parsed.error) errors.headers = parsed.error;
    headers = parsed.values;
    const fromEnv = pairs(form.headersFromEnv, ':', 'Name: VARIABLE');
    if (fromEnv.error) errors.headersFromEnv = fromEnv.error;
    config.headersFromEnv = Object.fromEntries(Object.entries(fromEnv.values).map(([k, v]) => [k, v.trim()]));
  }
  if (timeoutMs !== undefined) config.timeoutMs = timeoutMs;
  if (Object.keys(errors).length || !kind) return { input: null, errors };
  return { input: { name, kind, enabled: form.enabled !== '', config, env, headers }, errors };
}

/** The form of a stored server: secret names with empty values, never the values. */
export function mcpServerFormValues(server: { name: string; config: Record<string, unknown>; secretNames: { env: string[]; headers: string[] }; enabled: boolean }): McpServerForm {
  const c = server.config;
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
  const record = (v: unknown): Record<string, string> => (v && typeof v === 'object' ? (v as Record<string, string>) : {});
  const isUrl = typeof c.url === 'string';
  return {
    ...EMPTY_MCP_FORM,
    name: server.name,
    kind: isUrl ? 'url' : 'command',
    command: typeof c.command === 'string' ? c.command : '',
    args: list(c.args).join('\n'),
    env: server.secretNames.env.map((k) => `${k}=`).join('\n'),
    envFrom: list(c.envFrom).join(' '),
    cwd: typeof c.cwd === 'string' ? c.cwd : '',
    url: isUrl ? (c.url as string) : '',
    transport: typeof c.transport === 'string' ? c.transport : '',
    headers: server.secretNames.headers.map((k) => `${k}: `).join('\n'),
    headersFromEnv: Object.entries(record(c.headersFromEnv)).map(([k, v]) => `${k}: ${v}`).join('\n'),
    timeoutMs: typeof c.timeoutMs === 'number' ? String(c.timeoutMs) : '',
    enabled: server.enabled ? 'on' : '',
  };
}

/**
 * `McpServers.put`'s problems (`mcp.servers.x.envFrom: the variable X is not set`) beside the
 * fields they are about; the rest on the form. Anything but `invalid` is rethrown.
 */
export function placeProblems(error: unknown, name: string): McpServerErrors {
  if (!(error instanceof ThreadloomError) || error.code !== 'invalid') throw error;
  const errors: McpServerErrors = {};
  const prefix = `mcp.servers.${name}`;
  for (const line of error.userMessage.split('\n')) {
    const colon = line.indexOf(': ');
    const where = colon > 0 ? line.slice(0, colon) : '';
    const message = colon > 0 ? line.slice(colon + 2) : line;
    let field: keyof McpServerErrors = 'form';
    if (where === 'name') field = 'name';
    else if (where.startsWith(`${prefix}.`)) {
      const first = where.slice(prefix.length + 1).split('.')[0]!;
      if ((MCP_FORM_FIELDS as readonly string[]).includes(first)) field = first as keyof McpServerErrors;
      const detail = where.slice(prefix.length + 1 + first.length + 1);
      if (field !== 'form' && detail) {
        errors[field] ??= `${detail}: ${message}`;
        continue;
      }
    }
    errors[field] ??= field === 'form' ? line : message;
  }
  return errors;
}
