import { estimateTokens } from '../context/tokens.js';
import type { ChunkOptions, DocumentBlock, DocumentChunk, ExtractedDocument } from './types.js';

/*
 * Chunks follow the document: a section (the blocks under one heading path) is packed into chunks
 * of whole paragraphs; a paragraph too long for one is cut at sentences or lines, and a sentence
 * too long at a word. Chunks never span two sections, except that a tiny section joins its
 * neighbour under the same top-level heading (a chunk of one short line helps no search).
 * The overlap repeats the end of the previous chunk, inside one section only.
 */

interface Unit {
  text: string;
  page: number | null;
}

interface Section {
  headings: string[];
  units: Unit[];
}

/** Sections smaller than this share of a chunk join a neighbour under the same top heading. */
const TINY_SECTION_SHARE = 1 / 4;
/** The overlap is held to this share of a chunk, so every chunk brings mostly new text. */
const MAX_OVERLAP_SHARE = 1 / 4;
const SEPARATOR = '\n\n';

/** Pieces of at most `budget` tokens whose concatenation is the text: sentences and lines first, words if need be. */
export function splitText(text: string, budget: number): string[] {
  if (estimateTokens(text) <= budget) return [text];
  const sentences = text.split(/(?<=[.!?…]["'”’)\]]?\s+|\n)/);
  const pieces: string[] = [];
  let current = '';
  for (const sentence of sentences) {
    if (estimateTokens(current + sentence) <= budget) {
      current += sentence;
      continue;
    }
    if (current) pieces.push(current);
    current = '';
    if (estimateTokens(sentence) <= budget) current = sentence;
    else {
      const parts = hardSplit(sentence, budget);
      current = parts.pop() ?? '';
      pieces.push(...parts);
    }
  }
  if (current) pieces.push(current);
  return pieces.map((p) => p.trim()).filter((p) => p !== '');
}

/** A table too long for one piece is cut between rows, each piece opening with the header row so it reads alone. */
function splitTable(text: string, budget: number): string[] {
  const newline = text.indexOf('\n');
  const header = newline === -1 ? '' : text.slice(0, newline);
  const headerTokens = estimateTokens(header) + 1;
  if (estimateTokens(text) <= budget || !header || headerTokens > budget / 2) return splitText(text, budget);
  return splitText(text.slice(newline + 1), budget - headerTokens).map((rows) => `${header}\n${rows}`);
}

/** A run without sentence ends: cut at the last space that fits, or mid-word when there is none. */
function hardSplit(text: string, budget: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (estimateTokens(rest) > budget) {
    let n = Math.min(rest.length, budget * 4);
    while (n > 1 && estimateTokens(rest.slice(0, n)) > budget) n = Math.floor(n * 0.9);
    if (n > 1 && /[\uD800-\uDBFF]/.test(rest[n - 1]!)) n--;
    const space = rest.lastIndexOf(' ', n);
    if (space > n / 2) n = space + 1;
    pieces.push(rest.slice(0, n));
    rest = rest.slice(n);
  }
  if (rest) pieces.push(rest);
  return pieces;
}

/** The last words of a chunk, up to `budget` tokens: the next chunk's opening overlap. */
function tailOf(text: string, budget: number): string {
  if (budget <= 0) return '';
  const words = text.split(/\s+/);
  let tail = '';
  for (let i = words.length - 1; i >= 0; i--) {
    const next = tail ? `${words[i]} ${tail}` : words[i]!;
    if (estimateTokens(next) > budget) break;
    tail = next;
  }
  return tail;
}

const sameTop = (a: string[], b: string[]): boolean => a[0] === b[0];

function commonPrefix(a: string[], b: string[]): string[] {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return a.slice(0, n);
}

function sectionsOf(blocks: DocumentBlock[], unitBudget: number): Section[] {
  const sections: Section[] = [];
  let open: Section | null = null;
  for (const block of blocks) {
    // a heading opens a section; its text travels in the path, not as a chunk of its own
    if (block.kind === 'heading') {
      open = null;
      continue;
    }
    if (open === null || open.headings.join('\u0000') !== block.headings.join('\u0000')) {
      open = { headings: block.headings, units: [] };
      sections.push(open);
    }
    for (const text of block.kind === 'table' ? splitTable(block.text, unitBudget) : splitText(block.text, unitBudget)) open.units.push({ text, page: block.page });
  }
  return sections;
}

const sectionTokens = (s: Section): number => estimateTokens(s.units.map((u) => u.text).join(SEPARATOR));

/** Tiny neighbours under one top heading become one section; the headings they lose are kept as a line of text. */
function mergeTiny(sections: Section[], maxTokens: number): Section[] {
  const tiny = maxTokens * TINY_SECTION_SHARE;
  const merged: Section[] = [];
  for (const section of sections) {
    const previous = merged[merged.length - 1];
    if (previous && sameTop(previous.headings, section.headings) && (sectionTokens(previous) < tiny || sectionTokens(section) < tiny)) {
      const common = commonPrefix(previous.headings, section.headings);
      const both = { headings: common, units: [...labelled(previous, common), ...labelled(section, common)] };
      // merged only while the whole fits one chunk, so no merged unit is ever cut again
      if (sectionTokens(both) <= maxTokens) {
        merged[merged.length - 1] = both;
        continue;
      }
    }
    merged.push(section);
  }
  return merged;
}

/** A section's units, its first opening with the headings below `common` that a merge takes from its path. */
function labelled(section: Section, common: string[]): Unit[] {
  const lost = section.headings.slice(common.length);
  const [first, ...rest] = section.units;
  if (lost.length === 0 || !first) return section.units;
  return [{ text: `${lost.join(' › ')}\n${first.text}`, page: first.page }, ...rest];
}

function pageRange(units: Unit[]): { pageStart: number | null; pageEnd: number | null } {
  const pages = units.map((u) => u.page).filter((p): p is number => p !== null);
  return pages.length === 0 ? { pageStart: null, pageEnd: null } : { pageStart: Math.min(...pages), pageEnd: Math.max(...pages) };
}

/** A document cut into chunks that each know their headings and pages, none over `maxTokens`. */
export function chunkDocument(doc: ExtractedDocument, options: ChunkOptions): DocumentChunk[] {
  const maxTokens = Math.max(8, Math.floor(options.maxTokens));
  const overlapTokens = Math.max(0, Math.min(Math.floor(options.overlapTokens), Math.floor(maxTokens * MAX_OVERLAP_SHARE)));
  // room for the overlap and the separator before it, so any unit fits in any chunk
  const unitBudget = maxTokens - overlapTokens - 1;
  const chunks: DocumentChunk[] = [];
  const emit = (headings: string[], units: Unit[]): string => {
    const text = units.map((u) => u.text).join(SEPARATOR);
    chunks.push({ ordinal: chunks.length, text, ...pageRange(units), headings, tokens: estimateTokens(text) });
    return text;
  };
  for (const section of mergeTiny(sectionsOf(doc.blocks, unitBudget), maxTokens)) {
    let current: Unit[] = [];
    for (const unit of section.units) {
      const candidate = [...current, unit];
      if (current.length > 0 && estimateTokens(candidate.map((u) => u.text).join(SEPARATOR)) > maxTokens) {
        const text = emit(section.headings, current);
        const tail = tailOf(text, overlapTokens);
        current = tail ? [{ text: tail, page: current[current.length - 1]!.page }, unit] : [unit];
      } else {
        current = candidate;
      }
    }
    if (current.length > 0) emit(section.headings, current);
  }
  return chunks;
}
