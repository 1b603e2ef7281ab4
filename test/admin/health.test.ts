import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WRITE_PROBE_TTL_MS, WriteCheck } from '../../src/core/health.js';
import { startTestAdmin, type TestAdmin } from '../support/admin.js';

let admin: TestAdmin | undefined;
afterEach(async () => {
  await admin?.close();
  admin = undefined;
});

function probeFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('.write-probe'));
}

/** Fills the file system under `dir` with one file until a write fails for want of space. */
async function fillDisk(dir: string): Promise<string> {
  const filler = path.join(dir, 'filler');
  const handle = await open(filler, 'w');
  const chunk = Buffer.alloc(1 << 20, 1);
  try {
    for (;;) {
      await handle.write(chunk);
      await handle.sync();
    }
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    await handle.close();
  }
  return filler;
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

// a real full disk needs a small file system of our own: a tmpfs, which only root may mount
const mountTmpfs = (dir: string) => spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', dir]).status === 0;
const canMount = (() => {
  const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-mount-check-'));
  const mounted = mountTmpfs(dir);
  if (mounted) spawnSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
  return mounted;
})();

describe('/healthz', () => {
  it('should answer ok as before, after writing to the data directory and leaving nothing there', async () => {
    admin = await startTestAdmin();
    const response = await admin.anonymous('/healthz');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok', database: 'ok', platforms: { discord: 'off', slack: 'off', matrix: 'off' } });
    expect(probeFiles(admin.rt.dir)).toEqual([]);
  });

  it('should answer 503 naming the data directory while it cannot be written, and ok again once it can', async () => {
    admin = await startTestAdmin();
    const dir = admin.rt.dir;
    // the open database keeps its files; only new writes under the path fail (root ignores chmod)
    renameSync(dir, `${dir}.away`);
    writeFileSync(dir, 'a regular file where the data directory should be');
    try {
      const failing = await admin.anonymous('/healthz');
      expect(failing.statusCode).toBe(503);
      expect(failing.json()).toEqual({
        status: 'degraded',
        database: 'ok',
        reason: `cannot write to the data directory ${dir}: it is not a directory (ENOTDIR)`,
        platforms: { discord: 'off', slack: 'off', matrix: 'off' },
      });
      expect(admin.rt.logs.filter((l) => l.level === 'error' && l.message.includes(`cannot write to the data directory ${dir}`))).toHaveLength(1);
    } finally {
      rmSync(dir);
      renameSync(`${dir}.away`, dir);
    }
    // the answer stands for a few seconds, so a scraper hammering /healthz does not hammer the disk
    expect((await admin.anonymous('/healthz')).statusCode).toBe(503);
    admin.clock.advance(WRITE_PROBE_TTL_MS);
    const recovered = await admin.anonymous('/healthz');
    expect(recovered.statusCode).toBe(200);
    expect(recovered.json()).toMatchObject({ status: 'ok', database: 'ok' });
    expect(admin.rt.logs.some((l) => l.level === 'info' && l.message === 'the data directory takes writes again')).toBe(true);
  });

  it.skipIf(!canMount)('should answer 503 when the disk under the data directory is full, and ok once there is room', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-full-disk-'));
    expect(mountTmpfs(dir)).toBe(true);
    try {
      admin = await startTestAdmin({ config: (c) => ({ ...c, dataDir: dir }) });
      expect((await admin.anonymous('/healthz')).statusCode).toBe(200);
      const filler = await fillDisk(dir);
      admin.clock.advance(WRITE_PROBE_TTL_MS);
      const full = await admin.anonymous('/healthz');
      expect(full.statusCode).toBe(503);
      expect(full.json()).toMatchObject({ status: 'degraded', database: 'ok', reason: `cannot write to the data directory ${dir}: no space left on the device (ENOSPC)` });
      rmSync(filler);
      admin.clock.advance(WRITE_PROBE_TTL_MS);
      expect((await admin.anonymous('/healthz')).statusCode).toBe(200);
      expect(probeFiles(dir)).toEqual([]);
    } finally {
      await admin?.close();
      admin = undefined;
      spawnSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(WriteCheck.name, () => {
  function probeCounting(failWith?: () => NodeJS.ErrnoException | undefined) {
    const calls: string[] = [];
    return {
      calls,
      probe: async (dataDir: string) => {
        calls.push(dataDir);
        const err = failWith?.();
        if (err) throw err;
      },
    };
  }

  it('should probe at most once per interval and say why writes fail in words', async () => {
    let now = new Date('2026-11-22T12:00:00Z');
    let failure: NodeJS.ErrnoException | undefined = errno('ENOSPC');
    const { calls, probe } = probeCounting(() => failure);
    const check = new WriteCheck({ dataDir: () => '/srv/threadloom', now: () => now, probe });
    expect(await check.check()).toEqual({ ok: false, reason: 'cannot write to the data directory /srv/threadloom: no space left on the device (ENOSPC)' });
    failure = undefined;
    now = new Date(now.getTime() + WRITE_PROBE_TTL_MS - 1);
    expect((await check.check()).ok).toBe(false);
    expect(calls).toHaveLength(1);
    now = new Date(now.getTime() + 1);
    expect(await check.check()).toEqual({ ok: true });
    expect(calls).toHaveLength(2);
  });

  it('should share one probe between checks that arrive while it runs', async () => {
    let release!: () => void;
    let calls = 0;
    const check = new WriteCheck({
      dataDir: () => '/srv/threadloom',
      now: () => new Date('2026-11-22T12:00:00Z'),
      probe: () => {
        calls += 1;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    const answers = Promise.all([check.check(), check.check(), check.check()]);
    release();
    expect(await answers).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(calls).toBe(1);
  });
});
