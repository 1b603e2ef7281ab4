import { getDocument, VerbosityLevel } from 'pdfjs-dist/legacy/build/pdf.mjs';
import type { TextItem } from 'pdfjs-dist/types/src/display/api.js';
import { ThreadloomError } from '../../errors.js';
import type { ExtractedDocument, ExtractLimits } from '../types.js';
import { BlockCollector, baseName } from './collect.js';
import { NO_TEXT_LAYER_MESSAGE, pagesReadNote } from './notes.js';


/** A line at least this much larger than its page's body text is a heading. */
const HEADING_SIZE_RATIO = 1.15;
/** Longer lines are text set large, not headings. */
const HEADING_MAX_CHARS = 120;
/** A page with less text than this is measured against the whole file's body size: its own is too few words to tell. */
const PAGE_BODY_MIN_CHARS = 300;
/** A gap between baselines wider than this many font sizes starts a new paragraph. */
const PARAGRAPH_GAP = 1.6;

interface Line {
  text: string;
  size: number;
  y: number;
}

/** Text items into lines: a new line where the baseline moves or the item ends one. */
function linesOf(items: TextItem[]): Line[] {
  const lines: Line[] = [];
  let current: Line | null = null;
  let endX = 0;
  let ended = false;
  for (const item of items) {
    const size = Math.hypot(item.transform[2]!, item.transform[3]!) || item.height;
    const x = item.transform[4]!;
    const y = item.transform[5]!;
    if (item.str.trim() === '') {
      if (item.hasEOL) ended = true;
      continue;
    }
    if (current === null || ended || Math.abs(y - current.y) > Math.max(size, current.size) / 2) {
      current = { text: item.str, size, y };
      lines.push(current);
    } else {
      const gap = x - endX > size * 0.15 && !current.text.endsWith(' ') && !item.str.startsWith(' ');
      current.text += (gap ? ' ' : '') + item.str;
      current.size = Math.max(current.size, size);
    }
    endX = x + item.width;
    ended = item.hasEOL;
  }
  return lines.map((l) => ({ ...l, text: l.text.replace(/\s+/g, ' ').trim() })).filter((l) => l.text !== '');
}

const sizeKey = (size: number): number => Math.round(size * 2) / 2;

/** The size most of the page's characters are set in. */
function bodySize(lines: Line[]): number {
  const chars = new Map<number, number>();
  for (const l of lines) chars.set(sizeKey(l.size), (chars.get(sizeKey(l.size)) ?? 0) + l.text.length);
  return [...chars].reduce((best, c) => (c[1] > best[1] ? c : best), [0, -1])[0];
}

/** The note a PDF cut at the page limit carries. */

function pageList(pages: number[]): string {
  return pages.length === 1 ? `page ${pages[0]} has` : `pages ${pages.join(', ')} have`;
}

function unreadable(name: string, err: unknown): ThreadloomError {
  const kind = (err as { name?: string }).name;
  const why = kind === 'PasswordException' ? 'it is password-protected' : 'the file looks damaged';
  return new ThreadloomError('invalid', `PDF ${name} could not be read: ${(err as Error).message}`, { cause: err, userMessage: `"${name}" could not be read as a PDF: ${why}.` });
}

/**
 * Text per page, in reading order as the PDF stores it. Headings are found by size: lines set
 * larger than their page's body text, the largest size across the document being level 1.
 */
export async function extractPdf(name: string, bytes: Uint8Array, limits: ExtractLimits): Promise<ExtractedDocument> {
  // pdf.js takes ownership of the buffer it is given: hand it a copy
  const task = getDocument({ data: new Uint8Array(bytes), useSystemFonts: false, isEvalSupported: false, disableFontFace: true, verbosity: VerbosityLevel.ERRORS });
  try {
    const pdf = await task.promise.catch((err: unknown) => {
      throw unreadable(name, err);
    });
    const pageCount = pdf.numPages;
    const readCount = Math.min(pageCount, limits.maxPages);
    const withText: { page: number; lines: Line[] }[] = [];
    const pagesWithoutText: number[] = [];
    for (let page = 1; page <= readCount; page++) {
      const content = await (await pdf.getPage(page)).getTextContent();
      const lines = linesOf(content.items.filter((i): i is TextItem => 'str' in i));
      if (lines.length === 0) pagesWithoutText.push(page);
      else withText.push({ page, lines });
    }
    if (withText.length === 0) throw new ThreadloomError('invalid', `PDF ${name} has no text layer on the ${readCount} pages read`, { userMessage: NO_TEXT_LAYER_MESSAGE });
    const fileBody = bodySize(withText.flatMap((p) => p.lines));
    const pages = withText.map((p) => ({ ...p, body: p.lines.reduce((n, l) => n + l.text.length, 0) >= PAGE_BODY_MIN_CHARS ? bodySize(p.lines) : fileBody }));

    const isHeading = (line: Line, body: number): boolean => line.size >= body * HEADING_SIZE_RATIO && line.text.length <= HEADING_MAX_CHARS;
    const headingSizes = [...new Set(pages.flatMap((p) => p.lines.filter((l) => isHeading(l, p.body)).map((l) => sizeKey(l.size))))].sort((a, b) => b - a);

    const collector = new BlockCollector(limits.maxChars);
    for (const { page, lines, body } of pages) {
      let paragraph: Line[] = [];
      const flush = (): void => {
        collector.add('paragraph', paragraph.map((l) => l.text).join(' ').replace(/(\w)- (\p{Ll})/gu, '$1$2'), page);
        paragraph = [];
      };
      for (const line of lines) {
        if (isHeading(line, body)) {
          flush();
          collector.heading(headingSizes.indexOf(sizeKey(line.size)) + 1, line.text, page);
          continue;
        }
        const previous = paragraph[paragraph.length - 1];
        if (previous && Math.abs(previous.y - line.y) > PARAGRAPH_GAP * Math.max(previous.size, line.size)) flush();
        paragraph.push(line);
      }
      flush();
    }

    const notes: string[] = [];
    if (readCount < pageCount) notes.push(pagesReadNote(readCount, pageCount));
    if (pagesWithoutText.length > 0) notes.push(`${pageList(pagesWithoutText)} no text layer (scanned?); ${pagesWithoutText.length === 1 ? 'its' : 'their'} content was not read`);
    notes.push(...collector.notes());
    const info = (await pdf.getMetadata().catch(() => null))?.info as { Title?: unknown } | undefined;
    const metaTitle = typeof info?.Title === 'string' ? info.Title.trim() : '';
    return { format: 'pdf', title: metaTitle || collector.firstHeading() || baseName(name), blocks: collector.blocks, pageCount, pagesWithoutText, notes };
  } finally {
    await task.destroy();
  }
}
