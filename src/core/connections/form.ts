import { z } from 'zod';
import { PROVIDER_NAME, PROVIDER_NAME_RULE } from '../config.js';

/**
 * A provider connection as the admin's form sends it (strings), checked into what the service
 * stores, with one message per field for the page to show beside it.
 */

export const CONNECTION_KINDS = ['openai', 'anthropic', 'ollama'] as const;
export type ConnectionKind = (typeof CONNECTION_KINDS)[number];

/** The base URL each kind uses when the field is left empty. */
export const DEFAULT_BASE_URL: Record<ConnectionKind, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  ollama: 'http://127.0.0.1:11434',
};

export const CONNECTION_FIELDS = ['name', 'kind', 'baseURL', 'apiKey', 'clearKey', 'maxConcurrent', 'requestsPerMinute', 'enabled'] as const;
export type ConnectionForm = Record<(typeof CONNECTION_FIELDS)[number], string>;
export type ConnectionErrors = Partial<Record<(typeof CONNECTION_FIELDS)[number] | 'form', string>>;

export interface ConnectionInput {
  name: string;
  kind: ConnectionKind;
  baseURL: string;
  /** a new key; '' leaves the saved key as it is (or none, for a new connection) */
  apiKey: string;
  /** remove the saved key */
  clearKey: boolean;
  maxConcurrent: number;
  requestsPerMinute: number | null;
  enabled: boolean;
}

/** a whole number in [min, max] typed in a field; '' is `empty` */
const whole = <E>(min: number, max: number, message: string, empty: E) =>
  z.string().trim()
    .refine((v) => v === '' ? empty !== undefined : /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max, message)
    .transform((v) => (v === '' ? empty : Number(v)));

const inputSchema = z.object({
  name: z.string().trim().min(1, 'give the connection a name').max(40, 'at most 40 characters').regex(PROVIDER_NAME, `${PROVIDER_NAME_RULE}: letters, digits, - and _, e.g. lmstudio`),
  kind: z.enum(CONNECTION_KINDS, 'pick OpenAI-compatible, Anthropic or Ollama'),
  baseURL: z.string().trim(),
  apiKey: z.string().trim().max(4096, 'that is longer than any API key'),
  clearKey: z.string().transform((v) => v !== ''),
  maxConcurrent: whole(1, 256, 'a whole number from 1 to 256', 4),
  requestsPerMinute: whole(1, 100_000, 'empty, or a whole number from 1 to 100000', null),
  enabled: z.string().transform((v) => v !== ''),
});

/** Only the known fields, as strings; a missing checkbox is ''. */
export function readConnectionForm(body: unknown): ConnectionForm {
  const raw = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  return Object.fromEntries(CONNECTION_FIELDS.map((f) => [f, typeof raw[f] === 'string' ? raw[f] : ''])) as ConnectionForm;
}

/** The form as input, or a message per field. An empty base URL is the kind's default. */
export function parseConnectionForm(form: ConnectionForm): { input: ConnectionInput | null; errors: ConnectionErrors } {
  const errors: ConnectionErrors = {};
  const parsed = inputSchema.safeParse(form);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = String(issue.path[0] ?? 'form') as keyof ConnectionErrors;
      errors[field] ??= issue.message;
    }
  }
  let baseURL = form.baseURL.trim();
  if (parsed.success && baseURL === '') baseURL = DEFAULT_BASE_URL[parsed.data.kind];
  if (baseURL !== '') {
    let url: URL | null = null;
    try {
      url = new URL(baseURL);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) errors.baseURL = 'a URL starting with http:// or https://, e.g. http://127.0.0.1:1234/v1';
    else if (url.username || url.password) errors.baseURL = 'put the key in the API key field, not in the URL';
  }
  if (!parsed.success || Object.keys(errors).length) return { input: null, errors };
  return { input: { ...parsed.data, baseURL: baseURL.replace(/\/+$/, '') }, errors };
}

/** The form of a saved connection: never its key. */
export function connectionFormValues(row: { name: string; kind: string; base_url: string; max_concurrent: number; requests_per_minute: number | null; enabled: number }): ConnectionForm {
  return {
    name: row.name,
    kind: row.kind,
    baseURL: row.base_url,
    apiKey: '',
    clearKey: '',
    maxConcurrent: String(row.max_concurrent),
    requestsPerMinute: row.requests_per_minute === null ? '' : String(row.requests_per_minute),
    enabled: row.enabled ? 'on' : '',
  };
}
