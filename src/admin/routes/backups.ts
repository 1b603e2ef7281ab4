import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BackupService, type RestoreSource } from '../../core/backups/service.js';
import type { BackupEntry } from '../../core/backups/catalog.js';
import type { RestoreProgress } from '../../core/backups/restore.js';
import { errorMessage, ThreadloomError } from '../../core/errors.js';
import { audit } from '../audit.js';
import type { AdminContext } from '../context.js';
import { startSse } from '../sse.js';
import { formatBytes } from './models.js';

/**
 * The Backups page: the schedule and retention, every backup with its size and verdict,
 * "back up now" and restore (a listed backup, or an uploaded file) with progress over
 * server-sent events, and downloads. The BackupService does the work; a restore is checked,
 * preceded by a backup of the current database, and swapped in atomically.
 */

/** the largest upload a restore accepts */
const MAX_UPLOAD_BYTES = 8 * 1024 ** 3;
const EVENT_INTERVAL_MS = 100;

const PHASES: Record<RestoreProgress['phase'] | 'copying' | 'verifying', string> = {
  checking: 'Checking the backup (integrity, schema)',
  'pre-restore': 'Backing up the current database first',
  restoring: 'Swapping the restored database in',
  migrating: 'Bringing its schema up to date',
  copying: 'Copying the database',
  verifying: 'Verifying the copy (integrity check)',
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
  };
}

/**
 * Reads a multipart/form-data body as it arrives: small fields into memory, the one file part
 * straight into `fileTarget`. @fastify/multipart is not a dependency; a restore upload needs no more.
 */
async function readUpload(body: AsyncIterable<Buffer>, contentType: string, fileTarget: string): Promise<{ fields: Record<string, string>; fileName: string | null }> {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!match) throw new ThreadloomError('invalid', 'the upload has no multipart boundary');
  const delimiter = Buffer.from(`\r\n--${match[1] ?? match[2]}`);
  const keep = delimiter.length - 1;
  const fields: Record<string, string> = {};
  let fileName: string | null = null;
  let fileBytes = 0;
  let state: 'preamble' | 'after-boundary' | 'headers' | 'body' | 'done' = 'preamble';
  let part: { name: string; file: ReturnType<typeof createWriteStream> | null; text: Buffer[] } | null = null;
  // a CRLF in front lets the first boundary, which has none, match the delimiter too
  let buffer = Buffer.from('\r\n');

  const write = async (data: Buffer): Promise<void> => {
    if (!part || data.length === 0) return;
    if (part.file) {
      fileBytes += data.length;
      if (fileBytes > MAX_UPLOAD_BYTES) throw new ThreadloomError('invalid', `the upload is larger than ${formatBytes(MAX_UPLOAD_BYTES)}`);
      if (!part.file.write(data)) await once(part.file, 'drain');
    } else {
      part.text.push(data);
      if (part.text.reduce((n, b) => n + b.length, 0) > 64 * 1024) throw new ThreadloomError('invalid', `the form field ${part.name} is too long`);
    }
  };
  const endPart = async (): Promise<void> => {
    if (!part) return;
    if (part.file) {
      part.file.end();
      await once(part.file, 'finish');
    } else fields[part.name] = Buffer.concat(part.text).toString('utf8');
    part = null;
  };

  try {
    for await (const chunk of body) {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (state === 'preamble' || state === 'body') {
          const at = buffer.indexOf(delimiter);
          if (at < 0) {
            if (state === 'body') await write(buffer.subarray(0, Math.max(0, buffer.length - keep)));
            buffer = buffer.subarray(Math.max(0, buffer.length - keep));
            break;
          }
          if (state === 'body') {
            await write(buffer.subarray(0, at));
            await endPart();
          }
          buffer = buffer.subarray(at + delimiter.length);
          state = 'after-boundary';
        } else if (state === 'after-boundary') {
          if (buffer.length < 2) break;
          if (buffer[0] === 0x2d && buffer[1] === 0x2d) state = 'done';
          else if (buffer[0] === 0x0d && buffer[1] === 0x0a) state = 'headers';
          else throw new ThreadloomError('invalid', 'the upload is not well-formed multipart data');
          buffer = buffer.subarray(2);
        } else if (state === 'headers') {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) {
            if (buffer.length > 16 * 1024) throw new ThreadloomError('invalid', 'the upload has oversized part headers');
            break;
          }
          const headers = buffer.subarray(0, end).toString('utf8');
          buffer = buffer.subarray(end + 4);
          const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
          const name = /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? '';
          const file = /\bfilename="([^"]*)"/i.exec(disposition);
          if (file && fileName === null) {
            fileName = path.basename(file[1] ?? '') || 'upload.sqlite';
            part = { name, file: createWriteStream(fileTarget), text: [] };
          } else {
            part = { name, file: null, text: [] };
          }
          state = 'body';
        } else {
          break; // done: whatever follows the closing boundary is ignored
        }
      }
    }
    if (state !== 'done') throw new ThreadloomError('invalid', 'the upload ended early');
    return { fields, fileName };
  } finally {
    const open = part as { file: ReturnType<typeof createWriteStream> | null } | null;
    open?.file?.destroy();
  }
}

export function registerBackupsRoutes(app: FastifyInstance, ctx: AdminContext): void {
  // read on each request: whoever starts the admin may attach the service after building the app
  const current = (): BackupService | null => (ctx.backups instanceof BackupService ? ctx.backups : null);

  function backups(): BackupService {
    const service = current();
    if (!service) throw new ThreadloomError('unsupported', 'backups are not available in this process', { userMessage: 'Backups are not set up in this process.' });
    return service;
  }

  async function listView(message: string | null = null): Promise<Record<string, unknown>> {
    const service = current();
    return { backups: service ? (await service.list()).map(entryView) : [], busy: service?.busy ?? null, message };
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
        // written after the swap, so the entry lands in the restored database
        await audit(ctx, request, 'backup.restore', `${undo.trim() || 'no pre-restore backup (the database was empty)'}${migrated}`, label);
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
      ...(await listView()),
    });
  });

  app.get('/backups/list', async (_request, reply) => reply.partial('backups-list', await listView()));

  app.post('/backups/now', async (request, reply) => {
    const service = backups();
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
    const file = backups().pathOf(request.params.name);
    await audit(ctx, request, 'backup.download', null, request.params.name);
    reply.header('content-type', 'application/vnd.sqlite3');
    reply.header('content-disposition', `attachment; filename="${path.basename(file)}"`);
    return reply.send(createReadStream(file));
  });

  // two steps: without `confirm` equal to the backup's name, only the question comes back
  app.post<{ Params: { name: string } }>('/backups/:name/restore', async (request, reply) => {
    const name = request.params.name;
    backups().pathOf(name);
    const confirm = (request.body as Record<string, unknown> | undefined)?.confirm;
    if (confirm !== name) return reply.partial('backups-confirm-restore', { name });
    return restore(request, reply, { name }, name);
  });

  // an uploaded file: the body streams to disk (a database can be gigabytes), then is restored
  app.register(async (uploads) => {
    uploads.addContentTypeParser('multipart/form-data', (_request, payload, done) => done(null, payload));
    uploads.post('/backups/upload', async (request, reply) => {
      const service = backups();
      await mkdir(service.dir, { recursive: true });
      const staged = path.join(service.dir, `.upload-${Date.now()}-${Math.random().toString(36).slice(2)}.partial`);
      const cleanup = async (): Promise<void> => {
        await rm(staged, { force: true });
      };
      let upload: Awaited<ReturnType<typeof readUpload>>;
      try {
        upload = await readUpload(request.body as AsyncIterable<Buffer>, String(request.headers['content-type'] ?? ''), staged);
      } catch (err) {
        await cleanup();
        throw err;
      }
      if (!upload.fileName) {
        await cleanup();
        throw new ThreadloomError('invalid', 'choose a backup file to upload');
      }
      if (upload.fields.confirm !== 'yes') {
        await cleanup();
        throw new ThreadloomError('invalid', 'tick "replace the current database" to restore from an upload');
      }
      return restore(request, reply, { file: staged }, `the uploaded ${upload.fileName}`, cleanup);
    });
  });
}
