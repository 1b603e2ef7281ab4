import type { DocumentBlock, DocumentFormat, ExtractedDocument } from '../types.js';

/**
 * Gathers a document's blocks in reading order: keeps the heading path as headings open and close,
 * and stops at the character limit (a note says so). A heading's own block carries the path
 * that includes it, so it sits in the section it opens.
 */
export class BlockCollector {
  readonly blocks: DocumentBlock[] = [];
  private path: { level: number; text: string }[] = [];
  private chars = 0;
  /** the character limit was reached: nothing more is kept */
  full = false;

  constructor(private readonly maxChars: number) {}

  get headings(): string[] {
    return this.path.map((h) => h.text);
  }

  heading(level: number, text: string, page: number | null = null): void {
    const clean = text.replace(/\s+/g, ' ').trim();
    if (!clean) return;
    while (this.path.length > 0 && this.path[this.path.length - 1]!.level >= level) this.path.pop();
    this.path.push({ level, text: clean });
    this.push({ text: clean, page, headings: this.headings, kind: 'heading' });
  }

  add(kind: DocumentBlock['kind'], text: string, page: number | null = null): void {
    const clean = kind === 'code' || kind === 'table' ? text.replace(/^\n+|\s+$/g, '') : text.trim();
    if (!clean) return;
    this.push({ text: clean, page, headings: this.headings, kind });
  }

  /** The first heading's text, the usual title when the file has none in its metadata. */
  firstHeading(): string | null {
    return this.blocks.find((b) => b.kind === 'heading')?.text ?? null;
  }

  /** Notes for what the collector left out. */
  notes(): string[] {
    return this.full ? [`cut at ${this.maxChars.toLocaleString('en-US')} characters of text; the rest was not read`] : [];
  }

  /** The gathered blocks as a document without pages. */
  document(format: DocumentFormat, title: string): ExtractedDocument {
    return { format, title, blocks: this.blocks, pageCount: null, pagesWithoutText: [], notes: this.notes() };
  }

  private push(block: DocumentBlock): void {
    if (this.full) return;
    const room = this.maxChars - this.chars;
    if (block.text.length > room) {
      this.full = true;
      if (room <= 0) return;
      block = { ...block, text: block.text.slice(0, room) };
    }
    this.chars += block.text.length;
    this.blocks.push(block);
  }
}

/** "manual.v2.pdf" → "manual.v2" */
export function baseName(name: string): string {
  const file = name.split(/[\\/]/).pop() ?? name;
  const dot = file.lastIndexOf('.');
  return dot > 0 ? file.slice(0, dot) : file;
}
