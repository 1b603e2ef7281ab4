import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** Fields every log line written while handling one event carries (its request id). */
const context = new AsyncLocalStorage<Record<string, unknown>>();

export function withLogContext<T>(fields: Record<string, unknown>, work: () => T): T {
  return context.run({ ...context.getStore(), ...fields }, work);
}

/**
 * Shapes of secrets that may reach a log line through an error message or a URL even when
 * Threadloom never logs them itself: API keys, bot tokens, bearer headers.
 */
const REDACTED = '[redacted]';
const SECRET_PATTERNS: Array<[RegExp, (match: string, ...groups: string[]) => string]> = [
  [/\bsk-(?:ant-)?[A-Za-z0-9_-]{8,}/g, () => REDACTED], // OpenAI, Anthropic
  [/\bxox[abposr]-[A-Za-z0-9-]{8,}/g, () => REDACTED], // Slack bot/user tokens
  [/\bxapp-[A-Za-z0-9-]{8,}/g, () => REDACTED], // Slack app tokens
  [/\bsyt_[A-Za-z0-9_-]{8,}/g, () => REDACTED], // Synapse access tokens
  [/\b[MN][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}/g, () => REDACTED], // Discord bot tokens
  [/\bBearer [A-Za-z0-9._~+/=-]{8,}/g, () => `Bearer ${REDACTED}`],
  [/(\\?"(?:password|token|apiKey|api_key|access_token|accessToken|secret)\\?"\s*:\s*\\?")[^"\\]+/gi, (_m, key) => `${key}${REDACTED}`],
];

/** Replaces known secret values and secret-shaped strings with `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 6) out = out.split(secret).join(REDACTED);
  for (const [pattern, replace] of SECRET_PATTERNS) out = out.replace(pattern, replace as (match: string, ...rest: unknown[]) => string);
  return out;
}

export interface LoggerOptions {
  level?: 'debug' | 'info' | 'warn' | 'error';
  /** json: one JSON object per line (journald, containers); pretty: `time level message {fields}` */
  format?: 'json' | 'pretty';
  /** values that must never be written: the configured keys, tokens and passwords */
  secrets?: readonly string[];
  write?: (line: string) => void;
}

function prettyLine(json: string): string {
  try {
    const { time, level, msg, ...fields } = JSON.parse(json) as Record<string, unknown>;
    const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
    return `${new Date(Number(time)).toISOString()} ${String(level)} ${String(msg)}${extra}\n`;
  } catch {
    return json;
  }
}

/**
 * Structured logs (pino) on stderr, so stdout stays free for the terminal chat. Every line
 * written while an event is handled carries its request id; secrets are redacted from the final
 * line, whatever field or message they hid in.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = options.secrets ?? [];
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const pretty = (options.format ?? (process.stderr.isTTY ? 'pretty' : 'json')) === 'pretty';
  const destination = {
    write(line: string): void {
      const safe = redactSecrets(line, secrets);
      write(pretty ? prettyLine(safe) : safe);
    },
  };
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      formatters: { level: (label) => ({ level: label }) },
      mixin: () => context.getStore() ?? {},
    },
    destination,
  );
  const at =
    (level: 'info' | 'warn' | 'error') =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (fields) logger[level](fields, message);
      else logger[level](message);
    };
  return { info: at('info'), warn: at('warn'), error: at('error') };
}

/** The logger before the config is read: pretty on a terminal, JSON otherwise. */
export function consoleLogger(): Logger {
  return createLogger();
}
