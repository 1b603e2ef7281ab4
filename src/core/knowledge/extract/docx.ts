import mammoth from 'mammoth';
import { ThreadloomError } from '../../errors.js';
import type { ExtractedDocument, ExtractLimits } from '../types.js';
import { BlockCollector, baseName } from './collect.js';
import { collectMarkedText, htmlToMarkedText } from './html.js';

/** Word's heading styles become h1…h6 in mammoth's HTML, tables stay tables; the HTML reader does the rest. */
export async function extractDocx(name: string, bytes: Uint8Array, limits: ExtractLimits): Promise<ExtractedDocument> {
  let html: string;
  try {
    ({ value: html } = await mammoth.convertToHtml({ buffer: Buffer.from(bytes) }, { ignoreEmptyParagraphs: true }));
  } catch (err) {
    throw new ThreadloomError('invalid', `DOCX ${name} could not be read: ${(err as Error).message}`, {
      cause: err,
      userMessage: `"${name}" could not be read as a Word document: the file looks damaged.`,
    });
  }
  // images arrive inline as data URIs: the reader skips <img>, so they cost nothing
  const collector = new BlockCollector(limits.maxChars);
  collectMarkedText(htmlToMarkedText(html), collector);
  return collector.document('docx', collector.firstHeading() ?? baseName(name));
}
