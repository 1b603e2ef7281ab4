import { ThreadloomError } from '../../errors.js';
import type { ExtractedDocument, ExtractLimits, IncomingFile } from '../types.js';
import { extractCsv } from './csv.js';
import { extractDocx } from './docx.js';
import { detectFormat, type FormatVerdict } from './format.js';
import { extractHtml } from './html.js';
import { extractMarkdown } from './markdown.js';
import { extractPdf } from './pdf.js';
import { extractText } from './text.js';

export { detectFormat } from './format.js';
export { NO_TEXT_LAYER_MESSAGE, pagesReadNote } from './pdf.js';

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

/** A file read into blocks with its structure; refused with a user-facing reason when it can't be. */
export async function extractDocument(file: IncomingFile, limits: ExtractLimits): Promise<ExtractedDocument> {
  if (file.bytes.length > limits.maxBytes) {
    throw new ThreadloomError('invalid', `${file.name} is ${file.bytes.length} bytes, over the ${limits.maxBytes} byte limit`, {
      userMessage: `"${file.name}" is ${megabytes(file.bytes.length)}; files up to ${megabytes(limits.maxBytes)} are read.`,
    });
  }
  const verdict = detectFormat(file);
  switch (verdict.format) {
    case 'pdf':
      return extractPdf(file.name, file.bytes, limits);
    case 'docx':
      return extractDocx(file.name, file.bytes, limits);
    case 'markdown':
      return extractMarkdown(file.name, decode(file.bytes), limits);
    case 'html':
      return extractHtml(file.name, decode(file.bytes), limits);
    case 'csv':
      return extractCsv(file.name, decode(file.bytes), limits);
    case 'text':
      return extractText(file.name, decode(file.bytes), limits);
    case null:
      throw new ThreadloomError('invalid', `${file.name} (${file.mimeType}) is not a readable document: ${verdict.why}`, {
        userMessage: `"${file.name}" can't be read: ${REFUSALS[verdict.why]}.`,
      });
  }
}
