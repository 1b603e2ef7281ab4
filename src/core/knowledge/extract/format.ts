import type { DocumentFormat, IncomingFile } from '../types.js';

const EXTENSIONS: Record<string, DocumentFormat> = {
  pdf: 'pdf',
  docx: 'docx',
  md: 'markdown',
  markdown: 'markdown',
  html: 'html',
  htm: 'html',
  xhtml: 'html',
  csv: 'csv',
  tsv: 'csv',
  txt: 'text',
  text: 'text',
  log: 'text',
};

const MIME_TYPES: Record<string, DocumentFormat> = {
  'application/pdf': 'pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'text/csv': 'csv',
  'text/tab-separated-values': 'csv',
  'text/plain': 'text',
};

const view = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const ascii = (bytes: Uint8Array, from: number, to: number): string => view(bytes.subarray(from, to)).toString('latin1');

/** The bytes say what they are: PDF, a Word zip, an old binary Office file, or text. */
type Sniffed = 'pdf' | 'docx' | 'zip' | 'ole' | 'text' | 'binary';

function sniff(bytes: Uint8Array): Sniffed {
  // a PDF's header may follow a little junk; readers accept it within the first KB
  if (ascii(bytes, 0, 1024).includes('%PDF-')) return 'pdf';
  if (ascii(bytes, 0, 4) === 'PK\u0003\u0004') {
    // zip entry names are stored uncompressed, in the local headers and the central directory
    return view(bytes).includes('word/document.xml') ? 'docx' : 'zip';
  }
  if (ascii(bytes, 0, 4) === '\u00d0\u00cf\u0011\u00e0') return 'ole';
  const head = bytes.subarray(0, 8192);
  if (head.includes(0)) return 'binary';
  // a multi-byte character cut at the window's edge is still text
  const decoded = new TextDecoder('utf-8').decode(head);
  return (decoded.match(/\uFFFD/g)?.length ?? 0) <= 2 ? 'text' : 'binary';
}

export type FormatVerdict = { format: DocumentFormat } | { format: null; why: 'old-office' | 'binary' | 'not-pdf' | 'not-docx' };

/**
 * The format to read a file as. The bytes decide for PDF and Word files (a PDF named .bin is still
 * a PDF); for text the extension, then the MIME type, says which kind of text it is.
 */
export function detectFormat(file: IncomingFile): FormatVerdict {
  const sniffed = sniff(file.bytes);
  if (sniffed === 'pdf' || sniffed === 'docx') return { format: sniffed };
  const extension = /\.([a-z0-9]+)$/i.exec(file.name)?.[1]?.toLowerCase() ?? '';
  const mime = file.mimeType.split(';')[0]!.trim().toLowerCase();
  const claimed = EXTENSIONS[extension] ?? MIME_TYPES[mime] ?? null;
  if (sniffed === 'ole') return { format: null, why: 'old-office' };
  if (sniffed !== 'text') return { format: null, why: claimed === 'pdf' ? 'not-pdf' : claimed === 'docx' ? 'not-docx' : 'binary' };
  if (claimed === 'pdf') return { format: null, why: 'not-pdf' };
  if (claimed === 'docx') return { format: null, why: 'not-docx' };
  if (claimed) return { format: claimed };
  return { format: /^\s*<(!doctype html|html[\s>])/i.test(ascii(file.bytes, 0, 512)) ? 'html' : 'text' };
}
