import type { ExtractedDocument, ExtractLimits } from '../types.js';
import { BlockCollector, baseName } from './collect.js';

/** Rows per block: each block repeats the header row, so any chunk of it reads on its own. */
export const CSV_ROWS_PER_BLOCK = 20;

/** The delimiter the header line uses most: comma, semicolon or tab. */
function delimiterOf(source: string): string {
  const header = source.slice(0, source.indexOf('\n') >>> 0);
  const counts = [',', ';', '\t'].map((d) => [d, header.split(d).length] as const);
  return counts.reduce((best, c) => (c[1] > best[1] ? c : best))[0];
}

/** RFC 4180 records: quoted fields may hold delimiters, doubled quotes and line breaks. */
export function parseCsv(source: string, delimiter = delimiterOf(source)): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    if (quoted) {
      if (ch === '"' && source[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === delimiter) record.push(field), (field = '');
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && source[i + 1] === '\n') i++;
      record.push(field);
      if (record.some((f) => f !== '')) records.push(record);
      record = [];
      field = '';
    } else field += ch;
  }
  record.push(field);
  if (record.some((f) => f !== '')) records.push(record);
  return records;
}

const row = (fields: string[]): string => fields.map((f) => f.replace(/\s+/g, ' ').trim()).join(' | ');

export function extractCsv(name: string, source: string, limits: ExtractLimits): ExtractedDocument {
  const [header, ...rows] = parseCsv(source);
  const collector = new BlockCollector(limits.maxChars);
  if (header) {
    if (rows.length === 0) collector.add('table', row(header));
    for (let i = 0; i < rows.length && !collector.full; i += CSV_ROWS_PER_BLOCK) {
      collector.add('table', [header, ...rows.slice(i, i + CSV_ROWS_PER_BLOCK)].map(row).join('\n'));
    }
  }
  return collector.document('csv', baseName(name));
}
