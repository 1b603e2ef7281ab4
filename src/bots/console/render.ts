import { Marked, type MarkedExtension } from 'marked';
import { markedTerminal } from 'marked-terminal';

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
const TAB_STOP = 8;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
/** East Asian wide and emoji code points take two terminal columns */
const WIDE = /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;

/** Colours and weights for a terminal; only used when the output is a TTY. */
export const paint = {
  you: (text: string) => `\x1b[1;36m${text}\x1b[0m`,
  bot: (text: string) => `\x1b[1;35m${text}\x1b[0m`,
  dim: (text: string) => `\x1b[2m${text}\x1b[0m`,
};

/** An answer's Markdown as a terminal shows it: bold, code blocks, tables, lists. */
export function renderMarkdown(markdown: string, width: number): string {
  const marked = new Marked(markedTerminal({ width, reflowText: true, tab: 2 }) as MarkedExtension);
  return (marked.parse(markdown, { async: false }) as string).replace(/\s+$/, '');
}

/** How many terminal rows `text` (ending in a newline) took on a screen `columns` wide. */
export function terminalRows(text: string, columns: number): number {
  const lines = text.split('\n');
  lines.pop(); // after the last newline: the row the cursor is on now
  let rows = 0;
  for (const line of lines) rows += Math.max(1, Math.ceil(displayWidth(line) / columns));
  return rows;
}

function displayWidth(line: string): number {
  let width = 0;
  for (const { segment } of graphemes.segment(line.replace(ANSI, ''))) {
    if (segment === '\t') width += TAB_STOP - (width % TAB_STOP);
    else if (segment === '\r') width = 0;
    else width += WIDE.test(segment) ? 2 : segment.charCodeAt(0) < 0x20 ? 0 : 1;
  }
  return width;
}
