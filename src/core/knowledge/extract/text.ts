import type { ExtractedDocument, ExtractLimits } from '../types.js';
import { BlockCollector, baseName } from './collect.js';

/** Plain text: one paragraph per run of lines between blank lines. */
export function extractText(name: string, source: string, limits: ExtractLimits): ExtractedDocument {
  const collector = new BlockCollector(limits.maxChars);
  for (const paragraph of source.split(/\r?\n[ \t]*(?:\r?\n[ \t]*)+/)) collector.add('paragraph', paragraph.replace(/\r\n/g, '\n'));
  return collector.document('text', baseName(name));
}
