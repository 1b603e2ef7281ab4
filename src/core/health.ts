import { randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Whether the data directory takes writes, for /healthz. `SELECT 1` answers from a full disk, and
 * a write rolled back inside a transaction never reaches the disk either; so the probe writes a
 * page-sized file in the data directory, fsyncs it (delayed allocation reports ENOSPC only then)
 * and removes it. The answer is kept for a few seconds: /healthz may be scraped often.
 */

/** How long a probe's answer stands, in milliseconds. */
export const WRITE_PROBE_TTL_MS = 5_000;
/** One SQLite page: what the smallest database write needs. */
const PROBE_BYTES = 4096;

/** Writes something durable under `dataDir`; throws when it cannot. */
export type WriteProbe = (dataDir: string) => Promise<void>;

export type WriteHealth = { ok: true } | { ok: false; reason: string };

export async function writeTempFile(dataDir: string): Promise<void> {
  const file = path.join(dataDir, `.write-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  let failure: unknown;
  try {
    const handle = await open(file, 'wx');
    try {
      await handle.write(Buffer.alloc(PROBE_BYTES));
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    failure = err;
  }
  // the first error is the one that says why; removing a file never made says nothing more
  await rm(file, { force: true }).catch((err: unknown) => (failure ??= err));
  if (failure) throw failure;
}

const CAUSES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOENT: 'it does not exist',
  ENOTDIR: 'it is not a directory',
  EIO: 'input/output error',
};

/** The reason /healthz gives: the directory and a short cause, never the error's own text. */
export function writeFailureReason(dataDir: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const cause = code ? `${CAUSES[code] ?? 'write failed'} (${code})` : 'write failed';
  return `cannot write to the data directory ${path.resolve(dataDir)}: ${cause}`;
}

export interface WriteCheckOptions {
  /** read at every probe, so a config reloaded in place is followed */
  dataDir: () => string;
  now: () => Date;
  probe?: WriteProbe;
  ttlMs?: number;
  /** told when writes start or stop failing, with the error's full text */
  onChange?: (health: WriteHealth, err?: unknown) => void;
}

/** The cached write probe: at most one probe per `ttlMs`, and one at a time. */
export class WriteCheck {
  private last?: { at: number; health: WriteHealth };
  private running?: Promise<WriteHealth>;

  constructor(private readonly options: WriteCheckOptions) {}

  check(): Promise<WriteHealth> {
    const now = this.options.now().getTime();
    const ttl = this.options.ttlMs ?? WRITE_PROBE_TTL_MS;
    if (this.last && now - this.last.at < ttl && now >= this.last.at) return Promise.resolve(this.last.health);
    this.running ??= this.probe().finally(() => (this.running = undefined));
    return this.running;
  }

  private async probe(): Promise<WriteHealth> {
    const dataDir = this.options.dataDir();
    let health: WriteHealth = { ok: true };
    let error: unknown;
    try {
      await (this.options.probe ?? writeTempFile)(dataDir);
    } catch (err) {
      error = err;
      health = { ok: false, reason: writeFailureReason(dataDir, err) };
    }
    const changed = (this.last?.health.ok ?? true) !== health.ok;
    this.last = { at: this.options.now().getTime(), health };
    if (changed) this.options.onChange?.(health, error);
    return health;
  }
}
