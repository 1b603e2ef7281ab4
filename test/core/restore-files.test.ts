import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBackup } from '../../src/core/backups/backup.js';
import { removeStalePartials, STALE_PARTIAL_MS } from '../../src/core/backups/partials.js';
import { BackupService, type BackupsConfig } from '../../src/core/backups/service.js';
import { silentLogger } from '../../src/core/log.js';
import { TestContext } from '../support/db.js';
import { BACKUPS_COPY_THE_SQLITE_FILE, sqliteOnly } from '../support/postgres.js';

const CONFIG: BackupsConfig = { schedule: '0 3 * * *', keepDaily: 7, keepWeekly: 4, enabled: false };

let ctx: TestContext;
let scratch: string;

beforeEach(async () => {
  ctx = await TestContext.create();
  scratch = mkdtempSync(path.join(tmpdir(), 'threadloom-restore-files-'));
});

afterEach(async () => {
  await ctx.close();
  rmSync(scratch, { recursive: true, force: true });
});

function service(): BackupService {
  return new BackupService({ database: ctx.database, dataDir: ctx.database.dir, config: CONFIG, log: silentLogger, now: () => new Date('2026-11-25T03:00:00Z') });
}

/** A file whose last write was `ageMs` ago. */
function leftover(dir: string, name: string, ageMs: number): string {
  const file = path.join(dir, name);
  writeFileSync(file, 'half a database');
  const then = new Date(Date.now() - ageMs);
  utimesSync(file, then, then);
  return file;
}

sqliteOnly(BACKUPS_COPY_THE_SQLITE_FILE).describe('BackupService and the files in the backups folder', () => {
  it('should neither list, download nor restore a symlink with a backup name', async () => {
    const backups = service();
    mkdirSync(backups.dir, { recursive: true });
    const secret = path.join(scratch, 'secret.txt');
    writeFileSync(secret, 'not for the admin web');
    const link = 'threadloom-20261101-030000-manual.sqlite';
    symlinkSync(secret, path.join(backups.dir, link));
    symlinkSync(ctx.database.file, path.join(backups.dir, 'threadloom-20261102-030000-manual.sqlite'));

    expect(await backups.list()).toEqual([]);
    expect(() => backups.pathOf(link)).toThrow('is not a regular file');
    await expect(backups.read(link)).rejects.toThrow('is not a regular file');
    await expect(backups.restore({ name: 'threadloom-20261102-030000-manual.sqlite' })).rejects.toThrow('is not a regular file');
    await expect(backups.verify(link)).rejects.toThrow('is not a regular file');
  });

  it('should remove partial files a killed backup left, at the start of the schedule', async () => {
    const backups = service();
    mkdirSync(backups.dir, { recursive: true });
    const stale = leftover(backups.dir, '.threadloom-20261101-030000-scheduled.sqlite.partial', STALE_PARTIAL_MS * 2);
    const staleJournal = leftover(backups.dir, '.threadloom-20261101-030000-scheduled.sqlite.partial-journal', STALE_PARTIAL_MS * 2);
    const upload = leftover(backups.dir, '.upload-1-abc.partial', STALE_PARTIAL_MS * 2);
    // still being written by someone (the CLI in another process, say)
    const fresh = leftover(backups.dir, '.restore-2.partial', 1000);
    const notOurs = leftover(backups.dir, 'notes.partial', STALE_PARTIAL_MS * 2);

    const stop = backups.startSchedule();
    await vi.waitFor(() => expect(existsSync(stale)).toBe(false));
    await stop();
    expect(existsSync(staleJournal)).toBe(false);
    expect(existsSync(upload)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(notOurs)).toBe(true);
  });

  it('should not remove the partial of a backup this process is writing, however old it looks', async () => {
    const conversation = await ctx.newConversation();
    for (let i = 0; i < 60; i++) await ctx.say(conversation.id, `message ${i} ${'x'.repeat(4000)}`);
    const dir = path.join(ctx.database.dir, 'backups');
    let sweep: Promise<string[]> | null = null;
    const entry = await createBackup(ctx.database, dir, {
      reason: 'manual',
      now: new Date('2026-11-25T03:00:00Z'),
      pagesPerStep: 5,
      onProgress: ({ pagesDone }) => {
        if (sweep || pagesDone === 0) return;
        const partial = readdirSync(dir).find((f) => f.endsWith('.partial'))!;
        const old = new Date(Date.now() - STALE_PARTIAL_MS * 2);
        utimesSync(path.join(dir, partial), old, old);
        sweep = removeStalePartials(dir);
      },
    });
    expect(sweep).not.toBeNull();
    expect(await sweep).toEqual([]);
    expect(entry.status).toBe('ok');
  });
});
