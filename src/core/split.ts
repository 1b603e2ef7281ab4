/**
 * Splits a Markdown answer into messages that fit a platform's length limit, cutting where a
 * reader expects a break and never through a character, a grapheme cluster or a code fence.
 */

/** Below this a closed-and-reopened code fence leaves no room for the code itself. */
export const MIN_SPLIT_LENGTH = 16;

/** Paragraph, line and sentence breaks only win when they keep at least this much of a chunk. */
const PREFERRED_CUT_FRACTION = 0.4;
const MIN_CODE_ROOM = 4;
/** Grapheme rules only look a few code points ahead; this window covers long emoji sequences. */
const GRAPHEME_LOOKAHEAD = 64;

const OPENING_FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const CLOSING_FENCE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;
const BLANK_LINE_AFTER = /\n[ \t]*(?:\r?\n|$)/y;
const SENTENCE_END = /[.!?…]/;
const CJK_SENTENCE_END = /[。！？]/;
const CJK_PAUSE = /[，、；：]/;
const WHITESPACE = /\s/;
const NON_BLANK = /\S/;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

interface Fence {
  marker: string;
  info: string;
}

interface Line {
  start: number;
  /** index of the line's `\n`, or the text's length */
  end: number;
  role: 'open' | 'close' | null;
  before: Fence | null;
  after: Fence | null;
}

export interface FirstChunk {
  chunk: string;
  /** what follows, as self-contained Markdown (a cut code block is reopened); '' when done */
  rest: string;
}

export function splitMessage(text: string, maxLength: number): string[] {
  checkMaxLength(maxLength);
  const chunks: string[] = [];
  let rest = text.replace(/^(?:[ \t]*\r?\n)+/, '');
  while (NON_BLANK.test(rest)) {
    const next = splitFirst(rest, maxLength);
    if (next.chunk !== '') chunks.push(next.chunk);
    rest = next.rest;
  }
  return chunks;
}

/** The first message of `splitMessage(text)`, and the Markdown that the others are made from. */
export function splitFirst(text: string, maxLength: number): FirstChunk {
  checkMaxLength(maxLength);
  let cutter = new Cutter(text, maxLength);
  const shortened = cutter.withShortOpeningFence();
  if (shortened !== null) cutter = new Cutter(shortened, maxLength);
  return cutter.chunkAt(cutter.chooseCut());
}

function checkMaxLength(maxLength: number): void {
  if (!Number.isInteger(maxLength) || maxLength < MIN_SPLIT_LENGTH) {
    throw new RangeError(`maxLength must be an integer of at least ${MIN_SPLIT_LENGTH}, got ${maxLength}`);
  }
}

class Cutter {
  private readonly lines: Line[];
  /** Lines are read a little past the limit only: a long answer is split once per message. */
  private readonly scanned: number;
  private graphemes: Intl.Segments | null = null;

  constructor(
    private readonly text: string,
    private readonly max: number,
  ) {
    const lineAfterLimit = text.indexOf('\n', max + GRAPHEME_LOOKAHEAD);
    this.scanned = lineAfterLimit === -1 ? text.length : lineAfterLimit;
    this.lines = scanLines(text.slice(0, this.scanned));
  }

  chooseCut(): number {
    const { text, max } = this;
    if (this.fitsWhole()) return text.length;

    const best: number[] = [];
    const preferredFrom = Math.floor(max * PREFERRED_CUT_FRACTION);
    for (let cut = Math.min(max, text.length - 1); cut > 0; cut--) {
      if (cut < preferredFrom && best[4] !== undefined) break;
      const rank = this.rankAt(cut, preferredFrom);
      if (best[rank] !== undefined || !this.isGraphemeBoundary(cut) || !this.fits(cut, true)) continue;
      best[rank] = cut;
      if (rank === 1) break;
    }
    const preferred = best.find((cut) => cut !== undefined);
    if (preferred !== undefined) return preferred;

    for (let cut = Math.min(max, text.length - 1); cut > 0; cut--) {
      if (this.isGraphemeBoundary(cut) && this.fits(cut, false)) return cut;
    }
    // One grapheme longer than a message: a code point boundary is the last safe place.
    for (let cut = Math.min(max, text.length - 1); cut > 0; cut--) {
      if (!splitsSurrogatePair(text, cut) && this.fits(cut, false)) return cut;
    }
    return splitsSurrogatePair(text, max) ? max - 1 : max;
  }

  /**
   * A code block whose opening line leaves no room for code in one message loses its info
   * string, as it would when reopened; null when the text needs no such change.
   */
  withShortOpeningFence(): string | null {
    const first = this.lines[0] as Line;
    const fence = first.role === 'open' ? this.keptFence(first.after) : null;
    if (!fence || this.fitsWhole()) return null;
    if (first.end + 2 + fence.marker.length + MIN_CODE_ROOM <= this.max) return null;
    const opening = this.reopening(fence);
    return opening.length < first.end ? opening + this.text.slice(first.end) : null;
  }

  chunkAt(cut: number): FirstChunk {
    const { text } = this;
    const end = this.bodyEnd(cut);
    const remaining = text.slice(cut);
    const fence = this.fits(cut, false) ? this.keptFence(this.stateAt(cut)) : null;
    const rest = NON_BLANK.test(remaining) ? dropSeparator(remaining) : '';
    if (!fence) return { chunk: text.slice(0, end), rest };
    return {
      chunk: `${text.slice(0, end)}\n${fence.marker}`,
      rest: rest === '' ? '' : `${this.reopening(fence)}\n${rest}`,
    };
  }

  private fitsWhole(): boolean {
    return this.scanned === this.text.length && this.fits(this.text.length, false);
  }

  /**
   * Whether a cut here makes a chunk within the limit without breaking a fence line; `strict`
   * also refuses cuts that would leave the next message an empty code block.
   */
  private fits(cut: number, strict: boolean): boolean {
    const { text } = this;
    if (cut <= 0 || cut > text.length) return false;
    const line = this.lineAt(cut);
    if (line.role !== null && cut > line.start && cut < line.end) return false;
    const end = this.bodyEnd(cut);
    if (end === 0) return false;
    const fence = this.keptFence(this.stateAt(cut));
    if (end + (fence ? 1 + fence.marker.length : 0) > this.max) return false;
    if (cut === text.length) return true;
    if (this.lineAt(end - 1).role === 'open') return false;
    return !(strict && fence && this.closingFenceFollows(cut));
  }

  /** 1 paragraph, 2 line, 3 sentence, 4 any space, 5 anywhere. */
  private rankAt(cut: number, preferredFrom: number): number {
    const next = this.text[cut] ?? '';
    const previous = this.text[cut - 1] ?? '';
    const preferred = cut >= preferredFrom;
    if (next === '\n') {
      if (!preferred) return 4;
      BLANK_LINE_AFTER.lastIndex = cut;
      return BLANK_LINE_AFTER.test(this.text) ? 1 : 2;
    }
    const isSpace = WHITESPACE.test(next);
    if (preferred && ((SENTENCE_END.test(previous) && isSpace) || CJK_SENTENCE_END.test(previous))) return 3;
    if (isSpace || CJK_PAUSE.test(previous) || CJK_SENTENCE_END.test(previous)) return 4;
    return 5;
  }

  private bodyEnd(cut: number): number {
    let end = cut;
    while (end > 0 && WHITESPACE.test(this.text[end - 1] ?? '')) end--;
    return end;
  }

  private stateAt(index: number): Fence | null {
    const line = this.lineAt(index);
    return index > line.start && index >= line.end ? line.after : line.before;
  }

  private closingFenceFollows(cut: number): boolean {
    let index = cut;
    while (index < this.scanned && WHITESPACE.test(this.text[index] ?? '')) index++;
    return index < this.scanned && this.lineAt(index).role === 'close';
  }

  /** The fence to close and reopen, or null when there is no room to do it within the limit. */
  private keptFence(fence: Fence | null): Fence | null {
    if (!fence) return null;
    const room = this.reopening(fence).length + 1 + 1 + fence.marker.length + MIN_CODE_ROOM;
    return room <= this.max ? fence : null;
  }

  private reopening(fence: Fence): string {
    const full = fence.marker + fence.info;
    return full.length <= this.max / 4 ? full : fence.marker;
  }

  private lineAt(index: number): Line {
    const { lines } = this;
    let low = 0;
    let high = lines.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((lines[mid] as Line).start <= index) low = mid;
      else high = mid - 1;
    }
    return lines[low] as Line;
  }

  private isGraphemeBoundary(index: number): boolean {
    this.graphemes ??= graphemes.segment(this.text.slice(0, this.max + GRAPHEME_LOOKAHEAD));
    return this.graphemes.containing(index)?.index === index;
  }
}

function scanLines(text: string): Line[] {
  const lines: Line[] = [];
  let fence: Fence | null = null;
  let start = 0;
  for (;;) {
    const newline = text.indexOf('\n', start);
    const end = newline === -1 ? text.length : newline;
    const content = text.slice(start, end).replace(/\r$/, '');
    const before: Fence | null = fence;
    let role: Line['role'] = null;
    if (fence) {
      const closing = CLOSING_FENCE.exec(content);
      const marker = closing?.[1];
      if (marker && marker[0] === fence.marker[0] && marker.length >= fence.marker.length) {
        role = 'close';
        fence = null;
      }
    } else {
      const opening = OPENING_FENCE.exec(content);
      const marker = opening?.[1];
      const info = (opening?.[2] ?? '').trim();
      if (marker && !(marker[0] === '`' && info.includes('`'))) {
        role = 'open';
        fence = { marker, info };
      }
    }
    lines.push({ start, end, role, before, after: fence });
    if (newline === -1) return lines;
    start = newline + 1;
  }
}

/** Whitespace at a cut belongs to neither message, but indentation on the next line is content. */
function dropSeparator(text: string): string {
  const separator = /^\s*/.exec(text)?.[0] ?? '';
  const lastNewline = separator.lastIndexOf('\n');
  return text.slice(lastNewline >= 0 ? lastNewline + 1 : separator.length);
}

function splitsSurrogatePair(text: string, index: number): boolean {
  const before = text.charCodeAt(index - 1);
  const after = text.charCodeAt(index);
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
}
