import pino from 'pino';
import { redactSecrets } from './redact.js';

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** chatter seen only with logLevel debug (an MCP server's stderr); absent on small test loggers */
  debug?(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/**
 * The same logger with `fields` on every line it writes: the engine hands one carrying the
 * event's request id to the turn it runs. An explicit logger, not AsyncLocalStorage: that switched
 * on promise hooks for every promise of the process, 2–3 ms of CPU per API turn (bench:api).
 */
export function withFields(log: Logger, fields: Record<string, unknown>): Logger {
  const at =
    (write: (message: string, fields?: Record<string, unknown>) => void) =>
    (message: string, more?: Record<string, unknown>): void =>
      write(message, more ? { ...fields, ...more } : fields);
  const tagged: Logger = { info: at(log.info.bind(log)), warn: at(log.warn.bind(log)), error: at(log.error.bind(log)) };
  if (log.debug) tagged.debug = at(log.debug.bind(log));
  return tagged;
}

export { redactSecrets } from './redact.js';

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
 * Structured logs (pino) on stderr, so stdout stays free for the terminal chat. Secrets are
 * redacted from the final line, whatever field or message they hid in.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = options.secrets ?? [];
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const pretty = (options.format ?? (process.stderr.isTTY ? 'pretty' : 'json')) === 'pretty';
  const destination = {
    write(line: string): void {
      // the JSON line holds secrets escaped; the pretty line unescapes the message, so both are redacted
      const safe = redactSecrets(line, secrets);
      write(pretty ? redactSecrets(prettyLine(safe), secrets) : safe);
    },
  };
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (fields) logger[level](fields, message);
      else logger[level](message);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The logger before the config is read: pretty on a terminal, JSON otherwise. */
export function consoleLogger(): Logger {
  return createLogger();
}
