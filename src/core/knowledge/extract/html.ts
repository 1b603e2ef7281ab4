import { convert, type FormatCallback } from 'html-to-text';
import type { ExtractedDocument, ExtractLimits } from '../types.js';
import { BlockCollector, baseName } from './collect.js';

/*
 * html-to-text does the reading (entities, whitespace, skipped elements); custom formatters mark
 * the lines that start a heading or belong to a table with private-use characters, and the
 * marked text is then cut into blocks.
 */
const HEADING_MARK = '\uE000';
const TABLE_MARK = '\uE001';
const LIST_LINE = /^\s*(?:[*•-]|\d+[.)])\s+/;

const formatHeading: FormatCallback = (elem, walk, builder) => {
  const level = Number(elem.name?.slice(1)) || 1;
  builder.openBlock({ leadingLineBreaks: 2 });
  builder.addLiteral(`${HEADING_MARK}${level}`);
  walk(elem.children ?? [], builder);
  builder.closeBlock({ trailingLineBreaks: 2 });
};

/** Tables become pipe rows, one per line, each marked. */
const formatTable: FormatCallback = (elem, walk, builder) => {
  builder.openTable();
  const walkRows = (node: NonNullable<typeof elem.children>[number]): void => {
    if (node.type !== 'tag') return;
    if (node.name === 'tr') {
      builder.openTableRow();
      for (const cell of node.children ?? []) {
        if (cell.type !== 'tag' || (cell.name !== 'td' && cell.name !== 'th')) continue;
        builder.openTableCell();
        walk(cell.children ?? [], builder);
        builder.closeTableCell();
      }
      builder.closeTableRow();
    } else {
      (node.children ?? []).forEach(walkRows);
    }
  };
  (elem.children ?? []).forEach(walkRows);
  builder.closeTable({
    tableToString: (rows) => rows.map((cells) => TABLE_MARK + cells.map((c) => c.text.replace(/\s+/g, ' ').trim()).join(' | ')).join('\n'),
    leadingLineBreaks: 2,
    trailingLineBreaks: 2,
  });
};

/** Marked text in reading order: heading lines, table lines, and paragraphs between blank lines. */
export function htmlToMarkedText(html: string): string {
  return convert(html, {
    wordwrap: false,
    formatters: { tlHeading: formatHeading, tlTable: formatTable },
    selectors: [
      { selector: 'a', options: { ignoreHref: true } },
      { selector: 'img', format: 'skip' },
      { selector: 'script', format: 'skip' },
      { selector: 'style', format: 'skip' },
      { selector: 'noscript', format: 'skip' },
      { selector: 'template', format: 'skip' },
      { selector: 'table', format: 'tlTable' },
      ...(['h1', 'h2', 'h3', 'h4', 'h5', 'h6'] as const).map((selector) => ({ selector, format: 'tlHeading' })),
    ],
  });
}

/** Cuts marked text into the collector's blocks. */
export function collectMarkedText(marked: string, into: BlockCollector): void {
  let paragraph: string[] = [];
  let table: string[] = [];
  const flush = (): void => {
    if (table.length > 0) into.add('table', table.join('\n'));
    table = [];
    if (paragraph.length > 0) {
      const text = paragraph.join('\n');
      into.add(paragraph.every((l) => LIST_LINE.test(l)) ? 'list' : 'paragraph', text);
    }
    paragraph = [];
  };
  for (const line of marked.split('\n')) {
    if (line.startsWith(HEADING_MARK)) {
      flush();
      into.heading(Number(line[1]), line.slice(2));
    } else if (line.startsWith(TABLE_MARK)) {
      if (paragraph.length > 0) flush();
      table.push(line.slice(1));
    } else if (line.trim() === '') {
      flush();
    } else {
      if (table.length > 0) flush();
      paragraph.push(line.trim());
    }
  }
  flush();
}

function titleOf(html: string): string | null {
  const match = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html);
  if (!match) return null;
  const title = convert(match[1]!, { wordwrap: false }).replace(/\s+/g, ' ').trim();
  return title || null;
}

export function extractHtml(name: string, html: string, limits: ExtractLimits): ExtractedDocument {
  const collector = new BlockCollector(limits.maxChars);
  collectMarkedText(htmlToMarkedText(html), collector);
  return collector.document('html', titleOf(html) ?? collector.firstHeading() ?? baseName(name));
}
