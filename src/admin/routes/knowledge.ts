import multipart, { type MultipartFile } from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ThreadloomError } from '../../core/errors.js';
import type { Experience } from '../../core/experiences/service.js';
import { formatBytes } from '../../core/format/figures.js';
import { readJson } from '../../core/json-column.js';
import { findDocument } from '../../core/knowledge/repository.js';
import type { Source } from '../../core/knowledge/retrieve.js';
import { DEFAULT_EXTRACT_LIMITS, type KnowledgeDocument, type KnowledgeService } from '../../core/knowledge/service.js';
import type { DocumentBlock } from '../../core/knowledge/types.js';
import { knowledgeSpend } from '../../core/usage/ledger.js';
import { actorOf, audit } from '../audit.js';
import type { AdminContext } from '../context.js';
import { addFromUrl, addOne, filesOf, overUploadResult, readFilePart, tooLargeResult, type AddResult, type UploadBudget } from '../knowledge-input.js';

/**
 * The Knowledge page: each Experience's documents with their progress; per Experience, upload
 * (many files, picked or dropped), paste text, add a URL (fetched once under fetch_url's address
 * policy), the documents with preview, re-index and delete, and a box that shows what a question
 * retrieves. `/knowledge/documents/:id?page=N` is a document's text, the page marked: citations
 * link there. Everything from a document is data: rendered escaped, never as markup.
 */

/** files in one upload at most */
const MAX_FILES = 50;
/** bytes of files one upload holds in memory at most (all are read before the first is added): two of the largest documents */
const UPLOAD_MAX_BYTES = 2 * DEFAULT_EXTRACT_LIMITS.maxBytes;
/** the test box asks for no more than this many sources */
const TEST_LIMIT = 8;

type Results = { heading: string; lines: AddResult[] } | null;

function documentView(d: KnowledgeDocument) {
  return {
    id: d.id, title: d.title, fileName: d.fileName, format: d.format, size: formatBytes(d.sizeBytes), pages: d.pageCount,
    chunks: d.chunkCount, status: d.status, error: d.error, notes: d.notes, addedBy: d.addedBy, addedAt: d.createdAt, source: d.source, sourceUrl: d.sourceUrl,
  };
}

const STATUS_CLASS: Record<KnowledgeDocument['status'], string> = { queued: 'connecting', indexing: 'connecting', indexed: 'connected', failed: 'error' };

function sourceView(s: Source) {
  return { n: s.n, documentId: s.documentId, title: s.title, fileName: s.fileName !== s.title ? s.fileName : null, pageStart: s.pageStart, pageEnd: s.pageEnd, headings: s.headings, score: s.score.toFixed(4), matched: s.matched.join(' + '), text: s.text };
}

/** A document's text cut where its pages change: one part per page (PDF), or one part. */
function pagesOf(blocks: readonly DocumentBlock[]): Array<{ page: number | null; text: string }> {
  const parts: Array<{ page: number | null; texts: string[] }> = [];
  for (const block of blocks) {
    const last = parts.at(-1);
    if (last && last.page === block.page) last.texts.push(block.text);
    else parts.push({ page: block.page, texts: [block.text] });
  }
  return parts.map((p) => ({ page: p.page, text: p.texts.join('\n\n') }));
}

function documentId(request: FastifyRequest): number {
  const id = Number((request.params as { id: string }).id);
  if (!Number.isSafeInteger(id) || id <= 0) throw new ThreadloomError('not_found', 'no such document', { userMessage: 'There is no such document.' });
  return id;
}

function field(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}

export function registerKnowledgeRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const experiences = ctx.runtime.deps.experiences;
  const knowledge = (): KnowledgeService => {
    if (ctx.runtime.knowledge) return ctx.runtime.knowledge;
    throw new ThreadloomError('unsupported', 'knowledge on PostgreSQL: not yet', { userMessage: 'Knowledge is not available yet when Threadloom runs on PostgreSQL.' });
  };

  async function experience(request: FastifyRequest): Promise<Experience> {
    const slug = (request.params as { slug: string }).slug;
    const found = await experiences.get(slug);
    if (!found) throw new ThreadloomError('not_found', `no Experience "${slug}"`, { userMessage: `There is no Experience "${slug}".` });
    return found;
  }

  /** The document, and the Experience it belongs to. */
  async function documentOf(request: FastifyRequest): Promise<{ document: KnowledgeDocument; experience: Experience }> {
    const document = await knowledge().get(documentId(request));
    const owner = document ? await experiences.getById(document.experienceId) : null;
    if (!document || !owner) throw new ThreadloomError('not_found', 'no such document', { userMessage: 'There is no such document.' });
    return { document, experience: owner };
  }

  async function experiencePage(reply: FastifyReply, found: Experience, data: { results?: Results; query?: string; sources?: Source[] | null; values?: Record<string, string> } = {}) {
    const documents = (await knowledge().list(found.id)).map((d) => ({ ...documentView(d), statusClass: STATUS_CLASS[d.status] }));
    return reply.page('knowledge-experience', {
      title: `Knowledge of ${found.name}`,
      experience: { slug: found.slug, name: found.name },
      progress: await knowledge().status(found.id),
      spend: await knowledgeSpend(ctx.runtime.database.db, found.id),
      documents,
      results: data.results ?? null,
      query: data.query ?? '',
      sources: data.sources ? data.sources.map(sourceView) : null,
      values: { title: '', text: '', url: '', ...data.values },
      maxFile: formatBytes(DEFAULT_EXTRACT_LIMITS.maxBytes),
    });
  }

  const back = (found: Experience) => `/knowledge/${encodeURIComponent(found.slug)}`;

  async function recordResults(request: FastifyRequest, found: Experience, results: AddResult[], how: string): Promise<void> {
    for (const r of results) {
      if (r.documentId !== null) await audit(ctx, request, 'knowledge.add', `${how}: ${r.name} (${r.outcome}: ${r.message})`, `${found.slug}/${r.documentId}`);
    }
  }

  app.get('/knowledge', async (_request, reply) => {
    const list = await Promise.all((await experiences.list()).map(async (e) => ({ slug: e.slug, name: e.name, progress: await knowledge().status(e.id) })));
    return reply.page('knowledge', { title: 'Knowledge', experiences: list, overall: await knowledge().status() });
  });

  app.get('/knowledge/:slug', async (request, reply) => experiencePage(reply, await experience(request)));
  // a form's result page reloaded or bookmarked: the Experience's page
  for (const action of ['upload', 'text', 'url', 'test']) {
    app.get(`/knowledge/:slug/${action}`, async (request, reply) => reply.redirect(back(await experience(request)), 303));
  }

  // many files in one request: each is added on its own, so one that fails loses no other
  const budgets = new WeakMap<FastifyRequest, UploadBudget>();
  app.register(async (uploads) => {
    await uploads.register(multipart, {
      attachFieldsToBody: 'keyValues',
      throwFileSizeLimit: false,
      limits: { fields: 10, fieldSize: 64 * 1024, files: MAX_FILES, parts: MAX_FILES + 10, headerPairs: 100, fileSize: DEFAULT_EXTRACT_LIMITS.maxBytes },
      async onFile(this: FastifyRequest, part: MultipartFile) {
        let budget = budgets.get(this);
        if (!budget) budgets.set(this, (budget = { maxBytes: UPLOAD_MAX_BYTES, left: UPLOAD_MAX_BYTES }));
        (part as MultipartFile & { value: unknown }).value = await readFilePart(part, budget);
      },
    });
    uploads.post('/knowledge/:slug/upload', { config: { upload: true } }, async (request, reply) => {
      const found = await experience(request);
      const files = filesOf(request.body, 'files');
      if (!files.length) return experiencePage(reply.code(400), found, { results: { heading: 'Nothing was uploaded', lines: [{ name: '(no file)', outcome: 'refused', message: 'Choose or drop one or more files first.', documentId: null }] } });
      const lines: AddResult[] = [];
      for (const file of files) {
        if (file.tooLarge) lines.push(tooLargeResult(file, DEFAULT_EXTRACT_LIMITS.maxBytes));
        else if (file.overUpload) lines.push(overUploadResult(file, { maxBytes: UPLOAD_MAX_BYTES }));
        else lines.push(await addOne(knowledge(), found.id, file, actorOf(request)));
      }
      await recordResults(request, found, lines, 'upload');
      return experiencePage(reply, found, { results: { heading: `Uploaded ${files.length} file${files.length === 1 ? '' : 's'}`, lines } });
    });
  });

  app.post('/knowledge/:slug/text', async (request, reply) => {
    const found = await experience(request);
    const title = field(request.body, 'title').trim();
    const text = field(request.body, 'text');
    if (!text.trim()) {
      reply.code(422);
      return experiencePage(reply, found, { values: { title }, results: { heading: 'Nothing was added', lines: [{ name: title || '(untitled)', outcome: 'refused', message: 'Paste or type some text first.', documentId: null }] } });
    }
    let line: AddResult;
    try {
      const doc = await knowledge().addText(found.id, title, text, actorOf(request));
      line = { name: doc.title, outcome: doc.status === 'failed' ? 'failed' : 'added', message: doc.status === 'failed' ? (doc.error ?? 'it could not be read') : `${doc.chunkCount} chunk${doc.chunkCount === 1 ? '' : 's'}, ${doc.status}.`, documentId: doc.id };
    } catch (err) {
      if (!(err instanceof ThreadloomError)) throw err;
      line = { name: title || 'Untitled note', outcome: 'refused', message: err.userMessage, documentId: null };
    }
    await recordResults(request, found, [line], 'text');
    return experiencePage(reply, found, { results: { heading: 'Pasted text', lines: [line] } });
  });

  app.post('/knowledge/:slug/url', async (request, reply) => {
    const found = await experience(request);
    const url = field(request.body, 'url');
    const line = await addFromUrl(knowledge(), found.id, url, actorOf(request), { config: ctx.config.tools.fetchUrl, maxBytes: DEFAULT_EXTRACT_LIMITS.maxBytes, signal: new AbortController().signal });
    await recordResults(request, found, [line], 'url');
    if (line.outcome === 'refused' && line.documentId === null) reply.code(422);
    return experiencePage(reply, found, { values: line.documentId === null ? { url } : {}, results: { heading: 'Added from a URL', lines: [line] } });
  });

  app.post('/knowledge/:slug/test', async (request, reply) => {
    const found = await experience(request);
    const query = field(request.body, 'query').trim();
    const sources = query ? await knowledge().retrieve(found.id, query, { maxTokens: found.knowledge.maxTokens, limit: Math.min(found.knowledge.maxSources, TEST_LIMIT) }) : [];
    if (request.isHtmx) return reply.partial('knowledge-test', { query, sources: sources.map(sourceView) });
    return experiencePage(reply, found, { query, sources });
  });

  app.get('/knowledge/documents/:id', async (request, reply) => {
    const { document, experience: owner } = await documentOf(request);
    const row = await findDocument(ctx.runtime.database.db, document.id);
    const rawPage = Number((request.query as { page?: string }).page);
    const page = Number.isSafeInteger(rawPage) && rawPage > 0 ? rawPage : null;
    const parts = row?.blocks ? pagesOf(readJson(row.blocks)) : [{ page: null, text: row?.text ?? '' }];
    return reply.page('knowledge-document', {
      title: document.title,
      document: documentView(document),
      experience: { slug: owner.slug, name: owner.name },
      parts: parts.map((p) => ({ ...p, current: page !== null && p.page === page })),
      page,
      pageFound: page === null || parts.some((p) => p.page === page),
    });
  });

  app.get('/knowledge/documents/:id/preview', async (request, reply) => {
    const { document, experience: owner } = await documentOf(request);
    const preview = await knowledge().preview(document.id);
    const data = { document: documentView(document), experience: { slug: owner.slug, name: owner.name }, text: preview?.text ?? '', truncated: preview?.truncated ?? false };
    if (request.isHtmx) return reply.partial('knowledge-preview', data);
    return reply.page('knowledge-preview', { title: `Preview of ${document.title}`, ...data });
  });

  app.post('/knowledge/documents/:id/reindex', async (request, reply) => {
    const { document, experience: owner } = await documentOf(request);
    try {
      const done = await knowledge().reindex(document.id);
      await audit(ctx, request, 'knowledge.reindex', `${done.chunkCount} chunks, ${done.status}`, `${owner.slug}/${document.id}`);
      request.session!.flash = `Re-indexed “${done.title}”: ${done.chunkCount} chunk${done.chunkCount === 1 ? '' : 's'}, ${done.status}.`;
    } catch (err) {
      if (!(err instanceof ThreadloomError)) throw err;
      request.session!.flash = `Could not re-index “${document.title}”: ${err.userMessage}`;
    }
    return reply.redirect(back(owner), 303);
  });

  app.get('/knowledge/documents/:id/delete', async (request, reply) => {
    const { document, experience: owner } = await documentOf(request);
    const data = { id: document.id, name: document.title, slug: owner.slug, chunks: document.chunkCount };
    if (request.isHtmx) return reply.partial('knowledge-confirm-delete', { ...data, csrf: request.session!.csrf });
    return reply.page('knowledge-delete', { title: `Delete ${document.title}`, ...data });
  });

  app.post('/knowledge/documents/:id/delete', async (request, reply) => {
    const { document, experience: owner } = await documentOf(request);
    await knowledge().remove(document.id);
    await audit(ctx, request, 'knowledge.delete', `${document.fileName}, ${document.chunkCount} chunks`, `${owner.slug}/${document.id}`);
    request.session!.flash = `Deleted “${document.title}” with its ${document.chunkCount} chunk${document.chunkCount === 1 ? '' : 's'}.`;
    return reply.redirect(back(owner), 303);
  });
}
