import { createHash } from 'node:crypto';
import type { Db } from '../db/open.js';
import { ThreadloomError } from '../errors.js';
import { readJson } from '../json-column.js';
import type { Logger } from '../log.js';
import { chunkDocument } from './chunk.js';
import { extractDocument, refusalOf } from './extract/index.js';
import type { KnowledgeIndexer, KnowledgeIndexerStatus } from './indexer.js';
import { deleteDocument, failQueuedDocuments, findDocument, findDocumentByHash, insertDocument, listDocuments, replaceChunks, updateDocument } from './repository.js';
import type { KnowledgeRetriever, RetrieveOptions, Source } from './retrieve.js';
import type { DocumentSource, DocumentStatus, KnowledgeDocumentRow } from './table.js';
import type { ChunkOptions, DocumentBlock, DocumentChunk, DocumentFormat, ExtractedDocument, ExtractLimits, IncomingFile } from './types.js';

export type Extractor = (file: IncomingFile, limits: ExtractLimits) => Promise<ExtractedDocument>;
export type Chunker = (doc: ExtractedDocument, options: ChunkOptions) => DocumentChunk[];

const MEGABYTE = 1024 * 1024;
/**
 * A document added to the knowledge (upload, URL, chat command). 64 MB takes a manual whose
 * scans or photos make it large; the text kept is bounded by pages and characters, and a
 * chat attachment read into one message has its own, smaller limits (context/attachments.ts).
 */
export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = { maxBytes: 64 * MEGABYTE, maxPages: 500, maxChars: 2_000_000 };
export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = { maxTokens: 400, overlapTokens: 50 };
/** characters of a document's text a preview shows */
export const PREVIEW_CHARS = 4_000;

/** A document as the admin and chat show it. */
export interface KnowledgeDocument {
  id: number;
  experienceId: number;
  title: string;
  fileName: string;
  format: DocumentFormat;
  mimeType: string;
  sizeBytes: number;
  pageCount: number | null;
  pagesWithoutText: number[];
  notes: string[];
  source: DocumentSource;
  sourceUrl: string | null;
  addedBy: string;
  status: DocumentStatus;
  /** why it failed, or why its vectors are late */
  error: string | null;
  chunkCount: number;
  createdAt: string;
  indexedAt: string | null;
}

export interface DocumentPreview {
  document: KnowledgeDocument;
  text: string;
  /** the text was cut at PREVIEW_CHARS */
  truncated: boolean;
}

export interface KnowledgeServiceOptions {
  db: Db;
  indexer: KnowledgeIndexer;
  retriever: KnowledgeRetriever;
  log: Logger;
  now: () => Date;
  extract?: Extractor;
  chunk?: Chunker;
  limits?: ExtractLimits;
  chunking?: ChunkOptions;
}

function toDocument(row: Omit<KnowledgeDocumentRow, 'text' | 'blocks'>): KnowledgeDocument {
  return {
    id: row.id, experienceId: row.experience_id, title: row.title, fileName: row.file_name, format: row.format, mimeType: row.mime_type,
    sizeBytes: row.size_bytes, pageCount: row.page_count, pagesWithoutText: readJson(row.pages_without_text), notes: readJson(row.notes),
    source: row.source, sourceUrl: row.source_url, addedBy: row.added_by, status: row.status, error: row.error, chunkCount: row.chunk_count,
    createdAt: row.created_at, indexedAt: row.indexed_at,
  };
}

const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/** The document's text as a reader sees it: its blocks, a blank line apart. */
export function plainText(blocks: readonly DocumentBlock[]): string {
  return blocks.map((b) => b.text).join('\n\n');
}

/** Text added as such: one paragraph block per blank-line-separated part. */
function textDocument(title: string, text: string): ExtractedDocument {
  const blocks: DocumentBlock[] = text
    .split(/\n\s*\n/)
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => ({ text: part, page: null, headings: [], kind: 'paragraph' as const }));
  return { format: 'text', title, blocks, pageCount: null, pagesWithoutText: [], notes: [] };
}

/** What to tell about a document whose reading a stop cut short: its bytes were never kept, so it must come again. */
const INTERRUPTED: Record<DocumentSource, string> = {
  upload: 'Reading it was interrupted when Threadloom stopped; add the file again.',
  chat: 'Reading it was interrupted when Threadloom stopped; add the file again.',
  url: 'Reading it was interrupted when Threadloom stopped; add the URL again.',
  text: 'Adding it was interrupted when Threadloom stopped; add the text again.',
};

/** A file not taken at all (a duplicate, too large, not a document Threadloom reads): nothing was recorded. */
export class DocumentRefused extends ThreadloomError {
  constructor(message: string, userMessage: string) {
    super('invalid', message, { userMessage });
    this.name = 'DocumentRefused';
  }
}

function notFound(id: number): ThreadloomError {
  return new ThreadloomError('not_found', `knowledge document ${id} not found`, { userMessage: `There is no document ${id}.` });
}

/**
 * Each Experience's knowledge: documents added (a file or text), read, cut into chunks and
 * indexed in the background; retrieved as numbered sources for a turn. A chat user reaches only
 * the documents of the conversation's Experience: every read here takes that Experience's id.
 */
export class KnowledgeService {
  private readonly extract: Extractor;
  private readonly chunk: Chunker;

  constructor(private readonly options: KnowledgeServiceOptions) {
    this.extract = options.extract ?? extractDocument;
    this.chunk = options.chunk ?? chunkDocument;
  }

  get indexer(): KnowledgeIndexer {
    return this.options.indexer;
  }

  /**
   * Reads a file into an Experience's knowledge. A file too large or of a format not read, and
   * the same bytes twice in one Experience (naming the document they are), are refused with
   * nothing recorded. A file that cannot be read is kept as failed, with the reason, and the
   * reason is thrown for the caller to show.
   */
  async add(experienceId: number, file: IncomingFile, addedBy: string, source: DocumentSource = 'upload', sourceUrl: string | null = null): Promise<KnowledgeDocument> {
    const limits = this.options.limits ?? DEFAULT_EXTRACT_LIMITS;
    const refusal = refusalOf(file, limits);
    if (refusal) throw new DocumentRefused(refusal.message, refusal.userMessage);
    const row = await this.record(experienceId, sha256(file.bytes), {
      title: file.name, file_name: file.name, mime_type: file.mimeType, size_bytes: file.bytes.length, source, source_url: sourceUrl, added_by: addedBy,
    });
    let extracted: ExtractedDocument;
    try {
      extracted = await this.extract(file, limits);
    } catch (err) {
      const error = err instanceof ThreadloomError ? err : new ThreadloomError('invalid', `could not read ${file.name}: ${(err as Error).message}`, { cause: err, userMessage: `"${file.name}" could not be read.` });
      await updateDocument(this.options.db, row.id, { status: 'failed', error: error.userMessage });
      this.options.log.warn(`knowledge: ${file.name} could not be read: ${error.message}`);
      throw error;
    }
    try {
      return await this.index(row.id, extracted);
    } catch (err) {
      // a document never stays "queued" for a failure nobody will retry
      await updateDocument(this.options.db, row.id, { status: 'failed', error: `could not be indexed: ${(err as Error).message}` });
      throw err;
    }
  }

  /** Adds text typed or pasted as a document of its own. */
  async addText(experienceId: number, title: string, text: string, addedBy: string): Promise<KnowledgeDocument> {
    const name = title.trim() || 'Untitled note';
    const row = await this.record(experienceId, sha256(text), {
      title: name, file_name: name, mime_type: 'text/plain', size_bytes: Buffer.byteLength(text), source: 'text', source_url: null, added_by: addedBy,
    });
    return this.index(row.id, textDocument(name, text));
  }

  /**
   * At start, before anything is added: a document still "queued" was being read when the
   * process stopped (killed, power lost). Its file was held in memory only, so it cannot be
   * read again here; it becomes failed, saying to add it again. Chunks and their text are
   * written with the status in one transaction, so an "indexing" document has all of them and
   * its vectors resume from the queue (indexer).
   */
  async failInterrupted(): Promise<KnowledgeDocument[]> {
    const failed: KnowledgeDocument[] = [];
    for (const source of Object.keys(INTERRUPTED) as DocumentSource[]) {
      for (const id of await failQueuedDocuments(this.options.db, source, INTERRUPTED[source])) {
        const doc = (await this.get(id))!;
        this.options.log.warn(`knowledge: "${doc.fileName}" (document ${id}) was being read when Threadloom stopped; it is marked failed and must be added again`);
        failed.push(doc);
      }
    }
    return failed;
  }

  async list(experienceId: number): Promise<KnowledgeDocument[]> {
    return (await listDocuments(this.options.db, experienceId)).map(toDocument);
  }

  async get(id: number): Promise<KnowledgeDocument | null> {
    const row = await findDocument(this.options.db, id);
    return row ? toDocument(row) : null;
  }

  async preview(id: number, maxChars = PREVIEW_CHARS): Promise<DocumentPreview | null> {
    const row = await findDocument(this.options.db, id);
    if (!row) return null;
    const text = row.text ?? '';
    return { document: toDocument(row), text: text.slice(0, maxChars), truncated: text.length > maxChars };
  }

  /** Cuts the stored text into chunks again (after a change of chunking) and queues them. */
  async reindex(id: number): Promise<KnowledgeDocument> {
    const row = await findDocument(this.options.db, id);
    if (!row) throw notFound(id);
    if (!row.blocks) {
      throw new ThreadloomError('invalid', `document ${id} has no stored text`, { userMessage: `"${row.title}" was never read; remove it and add the file again.` });
    }
    const extracted: ExtractedDocument = {
      format: row.format, title: row.title, blocks: readJson(row.blocks), pageCount: row.page_count,
      pagesWithoutText: readJson(row.pages_without_text), notes: readJson(row.notes),
    };
    return this.index(id, extracted);
  }

  /** Deletes a document with its chunks, keyword index rows, queue entries and vectors. */
  async remove(id: number): Promise<boolean> {
    return deleteDocument(this.options.db, id);
  }

  /** Progress of one Experience's knowledge, or of all: documents by status, chunks embedded and waiting, the last error. */
  status(experienceId?: number): Promise<KnowledgeIndexerStatus> {
    return this.options.indexer.status(experienceId);
  }

  /**
   * Whether answers in this Experience have documents to cite. Never rejects: when the index
   * cannot say (a database error), true, and the retrieval that follows reports its own failure.
   */
  hasKnowledge(experienceId: number): Promise<boolean> {
    return this.options.retriever.hasKnowledge(experienceId).catch(() => true);
  }

  retrieve(experienceId: number, query: string, options: RetrieveOptions): Promise<Source[]> {
    return this.options.retriever.retrieve(experienceId, query, options);
  }

  private async record(
    experienceId: number,
    contentHash: string,
    fields: Pick<KnowledgeDocumentRow, 'title' | 'file_name' | 'mime_type' | 'size_bytes' | 'source' | 'source_url' | 'added_by'>,
  ): Promise<KnowledgeDocumentRow> {
    const refuse = (existing: KnowledgeDocumentRow): DocumentRefused =>
      new DocumentRefused(
        `duplicate of knowledge document ${existing.id}`,
        `This is already in the knowledge as "${existing.title}" (document ${existing.id}, added ${existing.created_at.slice(0, 10)}).`,
      );
    const existing = await findDocumentByHash(this.options.db, experienceId, contentHash);
    // a failed document holds no chunks: adding the same bytes again is trying again
    if (existing?.status === 'failed') await deleteDocument(this.options.db, existing.id);
    else if (existing) throw refuse(existing);
    try {
      return await insertDocument(this.options.db, { ...fields, experience_id: experienceId, format: 'text', content_hash: contentHash, status: 'queued' });
    } catch (err) {
      // added at the same moment by someone else
      const raced = await findDocumentByHash(this.options.db, experienceId, contentHash);
      if (raced) throw refuse(raced);
      throw err;
    }
  }

  /**
   * Stores the document's text and chunks and its new status in one transaction: keyword search
   * finds it at once; vectors follow in the background (none without an embedding model).
   */
  private async index(id: number, extracted: ExtractedDocument): Promise<KnowledgeDocument> {
    const chunks = this.chunk(extracted, this.options.chunking ?? DEFAULT_CHUNK_OPTIONS);
    const now = this.options.now().toISOString();
    const empty = chunks.length === 0;
    const waitsForVectors = !empty && this.options.indexer.model !== null;
    await this.options.db.transaction().execute(async (trx) => {
      await replaceChunks(trx, id, chunks);
      await updateDocument(trx, id, {
        title: extracted.title || undefined, format: extracted.format, page_count: extracted.pageCount,
        pages_without_text: JSON.stringify(extracted.pagesWithoutText), notes: JSON.stringify(extracted.notes),
        text: plainText(extracted.blocks), blocks: JSON.stringify(extracted.blocks), chunk_count: chunks.length,
        status: empty ? 'failed' : waitsForVectors ? 'indexing' : 'indexed',
        error: empty ? 'No text could be read from this document.' : null,
        indexed_at: empty || waitsForVectors ? null : now,
      });
    });
    if (waitsForVectors) this.options.indexer.nudge();
    return (await this.get(id))!;
  }
}
