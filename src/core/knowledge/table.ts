import type { Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { JsonText } from '../json-column.js';
import type { DocumentBlock, DocumentFormat } from './types.js';

/** Knowledge documents and their chunks (migration 2026-12-03T0900); FTS, queue and vectors are in store.ts. */

export type DocumentSource = 'upload' | 'chat' | 'url' | 'text';
/** queued: recorded, not read yet; indexing: chunks waiting for vectors; indexed: searchable in full; failed: see `error` */
export type DocumentStatus = 'queued' | 'indexing' | 'indexed' | 'failed';

export interface KnowledgeDocumentTable {
  id: Generated<number>;
  experience_id: number;
  title: string;
  file_name: string;
  format: DocumentFormat;
  mime_type: string;
  size_bytes: number;
  page_count: number | null;
  pages_without_text: Generated<JsonText<number[]>>;
  notes: Generated<JsonText<string[]>>;
  source: DocumentSource;
  source_url: string | null;
  /** platform:user id, or 'admin' */
  added_by: string;
  status: Generated<DocumentStatus>;
  error: string | null;
  chunk_count: Generated<number>;
  /** sha256 (hex) of the file's bytes, or of the text added as such */
  content_hash: string;
  /** the extracted text, blocks joined by blank lines: for preview and re-chunking */
  text: string | null;
  /** the extracted blocks, so re-chunking keeps pages and headings */
  blocks: JsonText<DocumentBlock[]> | null;
  created_at: Generated<string>;
  indexed_at: string | null;
}

export interface KnowledgeChunkTable {
  id: Generated<number>;
  document_id: number;
  ordinal: number;
  text: string;
  page_start: number | null;
  page_end: number | null;
  headings: Generated<JsonText<string[]>>;
  tokens: number;
}

export interface KnowledgeQueueTable {
  chunk_id: number;
  attempts: Generated<number>;
  not_before: string | null;
  last_error: string | null;
  queued_at: Generated<string>;
}

export interface KnowledgeIndexTable {
  id: number;
  model: string;
  dimension: number | null;
  created_at: Generated<string>;
}

export type KnowledgeDocumentRow = Selectable<KnowledgeDocumentTable>;
export type NewKnowledgeDocument = Insertable<KnowledgeDocumentTable>;
export type KnowledgeDocumentUpdate = Updateable<KnowledgeDocumentTable>;
export type KnowledgeChunkRow = Selectable<KnowledgeChunkTable>;
export type NewKnowledgeChunk = Insertable<KnowledgeChunkTable>;
