import path from 'node:path';
import type { MultipartFile } from '@fastify/multipart';
import { ThreadloomError } from '../core/errors.js';
import { formatBytes } from '../core/format/figures.js';
import { DocumentRefused, type KnowledgeDocument, type KnowledgeService } from '../core/knowledge/service.js';
import type { DocumentSource } from '../core/knowledge/table.js';
import type { IncomingFile } from '../core/knowledge/types.js';
import type { FetchUrlConfig } from '../core/tools/builtin/config.js';
import { fetchBytes, FetchFailed } from '../core/tools/builtin/fetch-url.js';

/**
 * What comes into an Experience's knowledge from the Knowledge page: uploaded files (many in one
 * request, each added on its own so one bad file loses nothing else), and a URL fetched once
 * under fetch_url's address policy. Each ends as one result line for the page.
 */

export interface AddResult {
  name: string;
  outcome: 'added' | 'refused' | 'failed';
  message: string;
  documentId: number | null;
}

/**
 * An uploaded file as the multipart hook keeps it; `tooLarge` when its bytes were cut at the
 * limit, `overUpload` when the upload's earlier files already held all it may; either way its
 * bytes are not kept.
 */
export interface UploadedFile extends IncomingFile {
  tooLarge: boolean;
  overUpload: boolean;
}

/** What one upload may still hold in memory: every file is read before the first is added. */
export interface UploadBudget {
  maxBytes: number;
  left: number;
}

const UPLOAD_ACCEPT = 'application/pdf, application/vnd.openxmlformats-officedocument.wordprocessingml.document, text/html, text/markdown, text/csv, text/plain;q=0.9, */*;q=0.5';

/**
 * Reads one file part into memory (a document is at most the extractor's byte limit) while the
 * upload's budget lasts; a file cut at the limit, or past the budget, is read to its end and dropped.
 */
export async function readFilePart(part: MultipartFile, budget: UploadBudget): Promise<UploadedFile> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of part.file as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= budget.left) chunks.push(chunk);
    else chunks.length = 0;
  }
  const tooLarge = part.file.truncated;
  const overUpload = !tooLarge && size > budget.left;
  if (!tooLarge && !overUpload) budget.left -= size;
  const bytes = tooLarge || overUpload ? Buffer.alloc(0) : Buffer.concat(chunks);
  return { name: path.basename(part.filename), mimeType: part.mimetype || 'application/octet-stream', bytes, tooLarge, overUpload };
}

/** The parts of a multipart body named `field`: none, one or many. */
export function filesOf(body: unknown, field: string): UploadedFile[] {
  const value = (body as Record<string, unknown> | undefined)?.[field];
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.filter((f): f is UploadedFile => typeof f === 'object' && f !== null && 'bytes' in f && typeof (f as UploadedFile).name === 'string' && (f as UploadedFile).name !== '');
}

function describeAdded(doc: KnowledgeDocument): AddResult {
  if (doc.status === 'failed') return { name: doc.fileName, outcome: 'failed', message: doc.error ?? 'it could not be read', documentId: doc.id };
  const pages = doc.pageCount ? `${doc.pageCount} page${doc.pageCount === 1 ? '' : 's'}, ` : '';
  const notes = doc.notes.length ? ` ${doc.notes.join(' ')}` : '';
  return { name: doc.fileName, outcome: 'added', message: `${pages}${doc.chunkCount} chunk${doc.chunkCount === 1 ? '' : 's'}, ${doc.status}.${notes}`, documentId: doc.id };
}

/**
 * Adds one file and says how it went. A duplicate, or a format not read, is refused (nothing
 * recorded); a file that cannot be read is kept as failed with the reason; anything else
 * unexpected is logged.
 */
export async function addOne(
  knowledge: KnowledgeService,
  experienceId: number,
  file: IncomingFile,
  addedBy: string,
  source: DocumentSource = 'upload',
  sourceUrl: string | null = null,
): Promise<AddResult> {
  try {
    return describeAdded(await knowledge.add(experienceId, file, addedBy, source, sourceUrl));
  } catch (err) {
    if (!(err instanceof ThreadloomError)) throw err;
    return { name: file.name, outcome: err instanceof DocumentRefused ? 'refused' : 'failed', message: err.userMessage, documentId: null };
  }
}

export function tooLargeResult(file: UploadedFile, maxBytes: number): AddResult {
  return { name: file.name, outcome: 'refused', message: `It is larger than ${formatBytes(maxBytes)}, the most a document may be; nothing was added.`, documentId: null };
}

/** A file that came after the upload's earlier files held all one upload may. */
export function overUploadResult(file: UploadedFile, budget: Pick<UploadBudget, 'maxBytes'>): AddResult {
  return { name: file.name, outcome: 'refused', message: `The files in this upload come to more than ${formatBytes(budget.maxBytes)}; this one was not read. Add it in another upload.`, documentId: null };
}

/** A name for a fetched document: the last part of its path, else its host. */
function nameOf(url: URL): string {
  const last = decodeURIComponent(url.pathname.split('/').filter(Boolean).at(-1) ?? '');
  return last || url.hostname;
}

/**
 * Fetches `address` once, under the address policy and limits of the fetch_url tool
 * (`tools.fetchUrl`: allowed hosts, timeout), reading up to `maxBytes`, and adds what came back.
 */
export async function addFromUrl(
  knowledge: KnowledgeService,
  experienceId: number,
  address: string,
  addedBy: string,
  deps: { config: FetchUrlConfig; maxBytes: number; signal: AbortSignal },
): Promise<AddResult> {
  const shown = address.trim();
  if (!shown) return { name: '(no URL)', outcome: 'refused', message: 'Type the URL of a document or page to add.', documentId: null };
  try {
    const fetched = await fetchBytes(shown, { config: deps.config, signal: deps.signal, accept: UPLOAD_ACCEPT, maxBytes: deps.maxBytes + 1 });
    if (fetched.cut || fetched.body.length > deps.maxBytes) {
      return { name: shown, outcome: 'refused', message: `It is larger than ${formatBytes(deps.maxBytes)}, the most a document may be; nothing was added.`, documentId: null };
    }
    const file: IncomingFile = { name: nameOf(fetched.url), mimeType: fetched.mime || 'application/octet-stream', bytes: fetched.body };
    return { ...(await addOne(knowledge, experienceId, file, addedBy, 'url', fetched.url.href)), name: fetched.url.href };
  } catch (err) {
    if (err instanceof FetchFailed) return { name: shown, outcome: 'refused', message: `Could not fetch it: ${err.message}.`, documentId: null };
    throw err;
  }
}
