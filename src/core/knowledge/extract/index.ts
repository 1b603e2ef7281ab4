import { ThreadloomError } from '../../errors.js';
import type { ExtractedDocument, ExtractLimits, IncomingFile } from '../types.js';
import { extractCsv } from './csv.js';
import { detectFormat, type FormatVerdict } from './format.js';
import { extractText } from './text.js';

export { detectFormat } from './format.js';
export { NO_TEXT_LAYER_MESSAGE, pagesReadNote } from './notes.js';

export const READ_FORMATS = 'PDF, Word (.docx), Markdown, HTML, CSV and plain text';

const megabytes = (bytes: number): string => `${Number((bytes / (1024 * 1024)).toFixed(1))} MB`;

const REFUSALS: Record<Extract<FormatVerdict, { format: null }>['why'], string> = {
  'old-office': 'it is an old binary Office file (save it as .docx or PDF)',
  binary: `only ${READ_FORMATS} files are read`,
  'not-pdf': 'it is named as a PDF but is not one (the file may be damaged)',
  'not-docx': 'it is named as a Word document but is not one (the file may be damaged)',
};

function decode(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes).replace(/^\uFEFF/, '');
}

function unreadable(file: IncomingFile, why: Extract<FormatVerdict, { format: null }>['why']): ThreadloomError {
  return new ThreadloomError('invalid', `${file.name} (${file.mimeType}) is not a readable document: ${why}`, {
    userMessage: `"${file.name}" can't be read: ${REFUSALS[why]}.`,
  });
}

/**
 * Why a file is not taken at all, told before anything is done with it: too large, or not a
 * document of a format read (a program, an archive, an image, an old Office file); null when it
 * may be read. A file named as a PDF or Word document that is not one is read and fails (damaged).
 */
export function refusalOf(file: IncomingFile, limits: ExtractLimits): ThreadloomError | null {
  if (file.bytes.length > limits.maxBytes) {
    return new ThreadloomError('invalid', `${file.name} is ${file.bytes.length} bytes, over the ${limits.maxBytes} byte limit`, {
      userMessage: `"${file.name}" is ${megabytes(file.bytes.length)}; files up to ${megabytes(limits.maxBytes)} are read.`,
    });
  }
  const verdict = detectFormat(file);
  return verdict.format === null && (verdict.why === 'binary' || verdict.why === 'old-office') ? unreadable(file, verdict.why) : null;
}

/** A file read into blocks with its structure; refused with a user-facing reason when it can't be. */
export async function extractDocument(file: IncomingFile, limits: ExtractLimits): Promise<ExtractedDocument> {
  const refusal = refusalOf(file, limits);
  if (refusal) throw refusal;
  const verdict = detectFormat(file);
  // the readers of PDF, Word and HTML load on first use: pdf.js, mammoth and html-to-text together
  // are ~60 MB and half a second that a start should not pay for a file that may never come
  switch (verdict.format) {
    case 'pdf':
      return (await import('./pdf.js')).extractPdf(file.name, file.bytes, limits);
    case 'docx':
      return (await import('./docx.js')).extractDocx(file.name, file.bytes, limits);
    case 'markdown':
      return (await import('./markdown.js')).extractMarkdown(file.name, decode(file.bytes), limits);
    case 'html':
      return (await import('./html.js')).extractHtml(file.name, decode(file.bytes), limits);
    case 'csv':
      return extractCsv(file.name, decode(file.bytes), limits);
    case 'text':
      return extractText(file.name, decode(file.bytes), limits);
    case null:
      throw unreadable(file, verdict.why);
  }
}
