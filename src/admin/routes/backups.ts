import multipart from '@fastify/multipart';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { claimPartial } from '../../core/backups/partials.js';
import type { BackupService, RestoreSource } from '../../core/backups/service.js';
import type { BackupEntry } from '../../core/backups/catalog.js';
import { undoHint, type RestoreProgress } from '../../core/backups/restore.js';
import { errorMessage, ThreadloomError } from '../../core/errors.js';
import { audit } from '../audit.js';
import type { AdminContext } from '../context.js';
import { startSse } from '../sse.js';
import { formatBytes } from '../../core/format/figures.js';

/**
 * The Backups page: the schedule and retention, every backup with its size and verdict,
 * "back up now" and restore (a listed backup, or an uploaded file) with progress over
 * server-sent events, and downloads. The BackupService does the work; a restore is checked,
 * preceded by a backup of the current database, and swapped in atomically.
 *
 * On PostgreSQL the backups are pg_dump archives: the page lists them, backs up now, serves
 * downloads and says which pg_dump runs (or why none can), and gives the pg_restore command
 * instead of a restore button: a restore there replaces the database every instance is using.
 */

const EVENT_INTERVAL_MS = 100;

const PHASES: Record<RestoreProgress['phase'] | 'copying' | 'verifying' | 'dumping', string> = {
  checking: 'Checking the backup (integrity, schema)',
  'pre-restore': 'Backing up the current database first',
  restoring: 'Swapping the restored database in',
  migrating: 'Bringing its schema up to date',
  copying: 'Copying the database',
  verifying: 'Verifying the copy (integrity check)',
  dumping: 'Dumping the database with pg_dump',
};

function entryView(entry: BackupEntry): Record<string, unknown> {
  return {
    name: entry.name,
    createdAt: entry.createdAt.toISOString(),
    reason: entry.reason ?? '',
    size: formatBytes(entry.sizeBytes),
    status: entry.status,
    message: entry.message,
    schemaVersion: entry.schemaVersion,
    madeBy: entry.madeBy ?? null,
  };
}

const FIELD_LIMITS = { fields: 10, fieldSize: 64 * 1024, files: 1, parts: 20, headerPairs: 100 };

function tooLarge(maxBytes: number): ThreadloomError {
  return new ThreadloomError('invalid', `the upload is larger than ${formatBytes(maxBytes)}`, {
    userMessage: `The file is larger than ${formatBytes(maxBytes)}, the most a restore accepts. Nothing was changed.`,
  });
}

/** @fastify/multipart's errors in words for the page; anything else is passed on. */
function uploadError(err: unknown, maxBytes: number): unknown {
  const code = (err as { code?: unknown }).code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return tooLarge(maxBytes);
  if (code === 'FST_FILES_LIMIT') return new ThreadloomError('invalid', 'upload one backup file at a time');
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') return new ThreadloomError('invalid', 'the upload has more form fields than the restore form sends');
  if (err instanceof Error && !(err instanceof ThreadloomError) && !('statusCode' in err)) {
    return new ThreadloomError('invalid', `the upload could not be read (${err.message}); try again`, { cause: err });
  }
  return err;
}

/** The form's fields, and its one file streamed to `target` (never held in memory: a database can be gigabytes). */
async function receiveUpload(request: FastifyRequest, target: string, maxBytes: number): Promise<{ fields: Record<string, string>; fileName: string | null }> {
  const fields: Record<string, string> = {};
  let fileName: string | null = null;
  try {
    for await (const part of request.parts({ limits: { ...FIELD_LIMITS, fileSize: maxBytes } })) {
      if (part.type === 'field') {
        fields[part.fieldname] = String(part.value);
        continue;
      }
      fileName = path.basename(part.filename) || 'upload.sqlite';
      await pipeline(part.file, createWriteStream(target));
      if (part.file.truncated) throw tooLarge(maxBytes);
    }
  } catch (err) {
    throw uploadError(err, maxBytes);
  }
  return { fields, fileName };
}

export function registerBackupsRoutes(app: FastifyInstance, ctx: AdminContext): void {
  // read on each request: whoever starts the admin may attach the service after building the app
  const current = (): BackupService | null => ctx.backups ?? null;

  function backups(): BackupService {
    const service = current();
    if (!service) throw new ThreadloomError('unsupported', 'backups are not available in this process', { userMessage: 'Backups are not set up in this process.' });
    return service;
  }

  async function listView(message: string | null = null): Promise<Record<string, unknown>> {
    const service = current();
    return { backups: service ? (await service.list()).map(entryView) : [], busy: service?.busy ?? null, message, postgres: service?.format === 'pgdump' };
  }

  /** On PostgreSQL: which pg_dump runs (or why none can) and how to restore; nothing on SQLite. */
  async function postgresView(service: BackupService | null): Promise<Record<string, unknown>> {
    if (service?.format !== 'pgdump') return { postgres: false };
    const tool = await service.pgDump();
    return {
      postgres: true,
      pgDump: tool?.ok ? { ok: true, path: tool.path, version: tool.version, server: tool.server } : { ok: false, message: tool?.message ?? 'pg_dump is not available' },
      restoreCommand: service.restoreCommand(path.join(service.dir, 'threadloom-….pgdump')),
    };
  }

  /** A restore on PostgreSQL is pg_restore's, by hand: the refusal names the command. */
  function refuseOnPostgres(service: BackupService, file?: string): void {
    if (service.format === 'pgdump') throw service.restoreRefusal(file);
  }

  /** Runs a backup or restore with its progress streamed as rendered partials. */
  async function withProgress(
    reply: FastifyReply,
    title: string,
    work: (progress: (phase: keyof typeof PHASES, done?: number, total?: number) => void) => Promise<{ ok: boolean; message: string; entry?: BackupEntry | null }>,
  ): Promise<FastifyReply> {
    const stream = startSse(reply, { onError: (err) => ctx.log.error('admin: rendering a progress event failed', { error: errorMessage(err) }) });
    let last = 0;
    const render = (data: Record<string, unknown>): void => {
      last = Date.now();
      void stream.send(app.view('partials/backups-progress', { title, ...data }));
    };
    const progress = (phase: keyof typeof PHASES, done = 0, total = 0): void => {
      if (Date.now() - last < EVENT_INTERVAL_MS && done < total) return;
      render({ phase: PHASES[phase], percent: total > 0 ? Math.floor((done / total) * 100) : null, finished: false });
    };
    let outcome: { ok: boolean; message: string; entry?: BackupEntry | null };
    try {
      outcome = await work(progress);
    } catch (err) {
      outcome = { ok: false, message: err instanceof ThreadloomError ? err.userMessage : errorMessage(err) };
    }
    render({ phase: outcome.ok ? 'Done' : 'Failed', percent: outcome.ok ? 100 : null, finished: true, ok: outcome.ok, message: outcome.message, entry: outcome.entry ? entryView(outcome.entry) : null });
    void stream.send(outcome.ok ? 'ok' : 'failed', { event: 'done' });
    await stream.close();
    return reply;
  }

  async function restore(request: FastifyRequest, reply: FastifyReply, source: RestoreSource, label: string, cleanup?: () => Promise<void>): Promise<FastifyReply> {
    return withProgress(reply, `Restoring ${label}`, async (progress) => {
      try {
        const report = await backups().restore(source, (p) => progress(p.phase, p.pagesDone, p.pagesTotal));
        const undo = report.preRestoreBackup ? ` The database as it was is in ${report.preRestoreBackup.name}.` : '';
        const migrated = report.appliedMigrations.length ? ` Applied ${report.appliedMigrations.length} newer migration(s).` : '';
        try {
          // written after the swap, so the entry lands in the restored database
          await audit(ctx, request, 'backup.restore', `${undo.trim() || 'no pre-restore backup (the database was empty)'}${migrated}`, label);
        } catch (err) {
          ctx.log.error(`admin: the restore of ${label} is done, but writing its audit entry failed: ${errorMessage(err)}`);
          return { ok: true, message: `Restored ${label}, but its audit entry could not be written (see the log). ${undoHint(report.preRestoreBackup)}.`, entry: report.preRestoreBackup };
        }
        return { ok: true, message: `Restored ${label}.${undo}${migrated}`, entry: report.preRestoreBackup };
      } finally {
        await cleanup?.();
      }
    });
  }

  app.get('/backups', async (_request, reply) => {
    const { schedule, keepDaily, keepWeekly, enabled } = ctx.config.backups;
    return reply.page('backups', {
      title: 'Backups',
      available: current() !== null,
      schedule: { cron: schedule, keepDaily, keepWeekly, enabled },
      folder: current()?.dir ?? null,
      maxUpload: formatBytes(current()?.maxUploadBytes ?? 0),
      ...(await listView()),
      ...(await postgresView(current())),
    });
  });

  app.get('/backups/list', async (_request, reply) => reply.partial('backups-list', await listView()));

  app.post('/backups/now', async (request, reply) => {
    const service = backups();
    if (service.format === 'pgdump') {
      return withProgress(reply, 'Backing up', async (progress) => {
        progress('dumping');
        const entry = await service.backupNow('manual');
        await audit(ctx, request, 'backup.create', `pg_dump: ${formatBytes(entry.sizeBytes)}`, entry.name);
        return { ok: true, message: `Backed up with pg_dump: ${entry.name} (${formatBytes(entry.sizeBytes)}).`, entry };
      });
    }
    return withProgress(reply, 'Backing up', async (progress) => {
      progress('copying');
      const entry = await service.backupNow('manual', (p) => {
        progress('copying', p.pagesDone, p.pagesTotal);
        if (p.pagesDone === p.pagesTotal) progress('verifying');
      });
      await audit(ctx, request, 'backup.create', `${entry.status}: ${formatBytes(entry.sizeBytes)}${entry.message ? `, ${entry.message}` : ''}`, entry.name);
      return entry.status === 'ok'
        ? { ok: true, message: `Backed up and verified: ${entry.name} (${formatBytes(entry.sizeBytes)}).`, entry }
        : { ok: false, message: `The copy ${entry.name} failed verification: ${entry.message ?? 'unknown reason'}.`, entry };
    });
  });

  app.get<{ Params: { name: string } }>('/backups/:name/download', async (request, reply) => {
    const { stream, sizeBytes } = await backups().read(request.params.name);
    await audit(ctx, request, 'backup.download', null, request.params.name);
    reply.header('content-type', request.params.name.endsWith('.pgdump') ? 'application/octet-stream' : 'application/vnd.sqlite3');
    reply.header('content-length', sizeBytes);
    reply.header('content-disposition', `attachment; filename="${request.params.name}"`);
    return reply.send(stream);
  });

  // two steps: without `confirm` equal to the backup's name, only the question comes back
  app.post<{ Params: { name: string } }>('/backups/:name/restore', async (request, reply) => {
    const name = request.params.name;
    refuseOnPostgres(backups(), backups().pathOf(name));
    const confirm = (request.body as Record<string, unknown> | undefined)?.confirm;
    if (confirm !== name) return reply.partial('backups-confirm-restore', { name });
    return restore(request, reply, { name }, name);
  });

  // an uploaded file: the body streams to disk (a database can be gigabytes), then is restored
  app.register(async (uploads) => {
    await uploads.register(multipart);
    uploads.post('/backups/upload', { config: { upload: true } }, async (request, reply) => {
      const service = backups();
      // before a byte of the upload is stored
      refuseOnPostgres(service);
      await mkdir(service.dir, { recursive: true });
      const staged = path.join(service.dir, `.upload-${randomUUID()}.partial`);
      const release = claimPartial(staged);
      const cleanup = async (): Promise<void> => {
        release();
        await rm(staged, { force: true });
      };
      let upload: Awaited<ReturnType<typeof receiveUpload>>;
      try {
        upload = await receiveUpload(request, staged, service.maxUploadBytes);
        if (!upload.fileName) throw new ThreadloomError('invalid', 'choose a backup file to upload');
        if (upload.fields.confirm !== 'yes') throw new ThreadloomError('invalid', 'tick "replace the current database" to restore from an upload');
      } catch (err) {
        await cleanup();
        throw err;
      }
      const label = `the uploaded ${upload.fileName}`;
      return restore(request, reply, { file: staged, label }, label, cleanup);
    });
  });
}
