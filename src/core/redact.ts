/**
 * One redaction for everything Threadloom writes or hands out: log lines, stored errors, API
 * answers. Known secrets (the configured keys, tokens and passwords) are removed in every form a
 * writer may give them — as they are, JSON-escaped (a string field of a JSON log line) and
 * escaped twice (a JSON body quoted inside such a field) — and so are strings shaped like
 * secrets even when nobody configured them: API keys, bot tokens, bearer headers.
 */
export const REDACTED = '[redacted]';

/** Shorter values would redact ordinary words; no real key or password is this short. */
const MIN_SECRET_LENGTH = 6;

const SECRET_PATTERNS: Array<[RegExp, (match: string, ...groups: string[]) => string]> = [
  [/\bsk-(?:ant-)?[A-Za-z0-9_-]{8,}/g, () => REDACTED], // OpenAI, Anthropic
  [/\bxox[abposr]-[A-Za-z0-9-]{8,}/g, () => REDACTED], // Slack bot/user tokens
  [/\bxapp-[A-Za-z0-9-]{8,}/g, () => REDACTED], // Slack app tokens
  [/\bsyt_[A-Za-z0-9_-]{8,}/g, () => REDACTED], // Synapse access tokens
  [/\b[MN][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}/g, () => REDACTED], // Discord bot tokens
  // auth schemes are case-insensitive (RFC 9110), and so is what a proxy may echo
  [/\b(Bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi, (_m, scheme, space) => `${scheme}${space}${REDACTED}`],
  [/("(?:password|token|apiKey|api_key|access_token|accessToken|secret|authorization)"\s*:\s*")(?:[^"\\]|\\.)+/gi, (_m, key) => `${key}${REDACTED}`],
  // the same inside a JSON string that is itself a field of a JSON line
  [/(\\"(?:password|token|apiKey|api_key|access_token|accessToken|secret|authorization)\\"\s*:\s*\\")(?:[^"\\]|\\\\\\\\|\\\\\\"|\\\\[^"\\])+/gi, (_m, key) => `${key}${REDACTED}`],
];

/** The secret as it is, JSON-escaped, and JSON-escaped twice; longest first, so no form is left half-replaced. */
function writtenForms(secret: string): string[] {
  const once = JSON.stringify(secret).slice(1, -1);
  const twice = JSON.stringify(once).slice(1, -1);
  return [...new Set([twice, once, secret])].sort((a, b) => b.length - a.length);
}

/** Replaces known secret values, in every written form, and secret-shaped strings with `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    for (const form of writtenForms(secret)) out = out.split(form).join(REDACTED);
  }
  for (const [pattern, replace] of SECRET_PATTERNS) out = out.replace(pattern, replace as (match: string, ...rest: unknown[]) => string);
  return out;
}
