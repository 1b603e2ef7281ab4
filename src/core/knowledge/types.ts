/**
 * Knowledge: documents per Experience that answers cite. A file is read into an extracted
 * document (text with its structure: pages, headings), cut into chunks that know where they come
 * from, indexed (keywords always, vectors when an embedding model is set), and retrieved for a
 * question as numbered sources.
 */

export type DocumentFormat = 'pdf' | 'docx' | 'markdown' | 'html' | 'text' | 'csv';

/** A file as it arrives: from the admin's upload, a chat attachment, or a fetched URL. */
export interface IncomingFile {
  name: string;
  /** as the sender said it; the extension and the bytes decide when it is vague */
  mimeType: string;
  bytes: Uint8Array;
}

/** One block of a document's text, in reading order, with where it sits. */
export interface DocumentBlock {
  text: string;
  /** 1-based page, for formats that have pages (PDF) */
  page: number | null;
  /** the headings above it, outermost first: ["Installation", "Network"] */
  headings: string[];
  /** a heading's own block, a table, or running text */
  kind: 'heading' | 'paragraph' | 'table' | 'list' | 'code';
}

export interface ExtractedDocument {
  format: DocumentFormat;
  /** from the file's metadata or its first heading; else the file name */
  title: string;
  blocks: DocumentBlock[];
  /** pages in the file (PDF), else null */
  pageCount: number | null;
  /** PDF pages that have no text layer (scanned), 1-based */
  pagesWithoutText: number[];
  /** what the reader should know: cut at a limit, pages without text, unreadable parts */
  notes: string[];
}

export interface ExtractLimits {
  /** bytes of the file read at most */
  maxBytes: number;
  /** PDF pages read at most; the rest is left out with a note */
  maxPages: number;
  /** characters of text kept at most */
  maxChars: number;
}

/** A piece of a document as it is indexed and cited. */
export interface DocumentChunk {
  /** 0-based position in the document */
  ordinal: number;
  text: string;
  /** the page it starts on, and ends on (PDF) */
  pageStart: number | null;
  pageEnd: number | null;
  /** the headings above it, outermost first */
  headings: string[];
  /** estimated tokens */
  tokens: number;
}

export interface ChunkOptions {
  /** the most tokens in one chunk */
  maxTokens: number;
  /** tokens repeated from the end of one chunk at the start of the next, within one section */
  overlapTokens: number;
}
