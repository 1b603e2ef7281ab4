import { marked, type Token } from 'marked';
import type { ExtractedDocument, ExtractLimits } from '../types.js';
import { BlockCollector, baseName } from './collect.js';
import { collectMarkedText, htmlToMarkedText } from './html.js';

function collect(tokens: Token[], into: BlockCollector): void {
  for (const token of tokens) {
    switch (token.type) {
      case 'heading':
        into.heading(token.depth as number, token.text as string);
        break;
      case 'code':
        into.add('code', token.text as string);
        break;
      case 'table':
        into.add('table', token.raw);
        break;
      case 'list':
        into.add('list', token.raw);
        break;
      case 'blockquote':
        collect((token.tokens as Token[] | undefined) ?? [], into);
        break;
      case 'html':
        // raw HTML in Markdown is read as HTML: its tags and any script are not text
        collectMarkedText(htmlToMarkedText(token.raw), into);
        break;
      case 'paragraph':
      case 'text':
        into.add('paragraph', token.raw);
        break;
      default:
      // space, hr, def: no text of their own
    }
  }
}

/** Markdown by its own structure: headings make the path, code and tables stay whole blocks. */
export function extractMarkdown(name: string, source: string, limits: ExtractLimits): ExtractedDocument {
  const collector = new BlockCollector(limits.maxChars);
  collect(marked.lexer(source), collector);
  return collector.document('markdown', collector.firstHeading() ?? baseName(name));
}
