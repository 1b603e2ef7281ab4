import { describe, expect, it } from 'vitest';
import { estimateTokens } from '../../../src/core/context/tokens.js';
import { chunkDocument } from '../../../src/core/knowledge/chunk.js';
import { extractDocument } from '../../../src/core/knowledge/extract/index.js';
import type { DocumentBlock, ExtractedDocument } from '../../../src/core/knowledge/types.js';
import { makePdf } from './files.js';

const sentence = (topic: string, i: number): string => `The ${topic} note number ${i} explains one more detail.`;
const paragraph = (topic: string, from: number, n: number): string => Array.from({ length: n }, (_, i) => sentence(topic, from + i)).join(' ');

function doc(blocks: Partial<DocumentBlock>[]): ExtractedDocument {
  return {
    format: 'text',
    title: 't',
    blocks: blocks.map((b) => ({ text: '', page: null, headings: [], kind: 'paragraph', ...b })),
    pageCount: null,
    pagesWithoutText: [],
    notes: [],
  };
}

/** A long section under "Alpha", then one under "Beta". */
const twoSections = doc([
  { kind: 'heading', text: 'Alpha', headings: ['Alpha'] },
  ...Array.from({ length: 6 }, (_, i) => ({ text: paragraph('alpha', i * 5, 5), headings: ['Alpha'] })),
  { kind: 'heading', text: 'Beta', headings: ['Beta'] },
  ...Array.from({ length: 6 }, (_, i) => ({ text: paragraph('beta', i * 5, 5), headings: ['Beta'] })),
]);

describe('chunkDocument', () => {
  it('should keep every chunk within maxTokens and its tokens counted', () => {
    const chunks = chunkDocument(twoSections, { maxTokens: 120, overlapTokens: 20 });
    expect(chunks.length).toBeGreaterThan(4);
    for (const c of chunks) {
      expect(c.tokens).toBe(estimateTokens(c.text));
      expect(c.tokens).toBeLessThanOrEqual(120);
    }
    expect(chunks.map((c) => c.ordinal)).toEqual(chunks.map((_, i) => i));
  });

  it('should not make a chunk of a heading, nor cross from one section into the next', () => {
    const chunks = chunkDocument(twoSections, { maxTokens: 120, overlapTokens: 20 });
    expect(chunks.some((c) => c.text === 'Alpha' || c.text === 'Beta')).toBe(false);
    for (const c of chunks) {
      expect(c.text.includes('alpha') && c.text.includes('beta')).toBe(false);
      expect(c.headings).toEqual([c.text.includes('alpha') ? 'Alpha' : 'Beta']);
    }
  });

  it('should repeat the end of the previous chunk within a section, and not across sections', () => {
    const chunks = chunkDocument(twoSections, { maxTokens: 120, overlapTokens: 20 });
    const firstBeta = chunks.findIndex((c) => c.headings[0] === 'Beta');
    for (let i = 1; i < chunks.length; i++) {
      const tail = chunks[i - 1]!.text.split(/\s+/).slice(-3).join(' ');
      if (i === firstBeta) expect(chunks[i]!.text.startsWith(tail)).toBe(false);
      else expect(chunks[i]!.text).toContain(tail);
    }
  });

  it('should split a 10,000-word paragraph into chunks that all fit', () => {
    const words = Array.from({ length: 10_000 }, (_, i) => `word${i}`).join(' ');
    const chunks = chunkDocument(doc([{ text: words }]), { maxTokens: 200, overlapTokens: 30 });
    expect(chunks.length).toBeGreaterThan(50);
    for (const c of chunks) expect(c.tokens).toBeLessThanOrEqual(200);
    expect(chunks[chunks.length - 1]!.text.endsWith('word9999')).toBe(true);
    // every word is in some chunk
    const seen = new Set(chunks.flatMap((c) => c.text.split(/\s+/)));
    expect(seen.size).toBe(10_000);
  });

  it('should cut a single line with no spaces at all', () => {
    const chunks = chunkDocument(doc([{ text: 'x'.repeat(5000) }]), { maxTokens: 100, overlapTokens: 0 });
    expect(chunks.map((c) => c.text).join('')).toBe('x'.repeat(5000));
    for (const c of chunks) expect(c.tokens).toBeLessThanOrEqual(100);
  });

  it('should open every piece of a long table with its header row', () => {
    const rows = Array.from({ length: 200 }, (_, i) => `host-${i} | 10.0.0.${i} | up`);
    const chunks = chunkDocument(doc([{ kind: 'table', text: ['name | address | state', ...rows].join('\n') }]), { maxTokens: 100, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) {
      expect(c.text.split('\n')[0]).toBe('name | address | state');
      expect(c.tokens).toBeLessThanOrEqual(100);
    }
    expect(chunks.flatMap((c) => c.text.split('\n').slice(1))).toEqual(rows);
  });

  it('should merge tiny neighbouring sections under one top heading, keeping the lost heading as text', () => {
    const chunks = chunkDocument(
      doc([
        { kind: 'heading', text: 'Setup', headings: ['Setup'] },
        { text: 'Install it.', headings: ['Setup'] },
        { kind: 'heading', text: 'Ports', headings: ['Setup', 'Ports'] },
        { text: 'Open 8787.', headings: ['Setup', 'Ports'] },
        { kind: 'heading', text: 'Usage', headings: ['Usage'] },
        { text: 'Ask away.', headings: ['Usage'] },
      ]),
      { maxTokens: 200, overlapTokens: 20 },
    );
    expect(chunks.map((c) => [c.headings, c.text])).toEqual([
      [['Setup'], 'Install it.\n\nPorts\nOpen 8787.'],
      [['Usage'], 'Ask away.'],
    ]);
  });

  it('should give each chunk of a PDF its pages and heading path', async () => {
    const pdf = await makePdf([
      { heading: 'Install', paragraphs: [paragraph('setup', 0, 6), paragraph('setup', 6, 6)] },
      { paragraphs: [paragraph('setup', 12, 6)] },
      { heading: 'Network', paragraphs: [paragraph('port', 0, 6)] },
    ]);
    const extracted = await extractDocument({ name: 'm.pdf', mimeType: 'application/pdf', bytes: pdf }, { maxBytes: 1e7, maxPages: 10, maxChars: 1e6 });
    const chunks = chunkDocument(extracted, { maxTokens: 150, overlapTokens: 10 });
    const install = chunks.filter((c) => c.headings[0] === 'Install');
    expect(install[0]).toMatchObject({ pageStart: 1 });
    expect(install[install.length - 1]).toMatchObject({ pageEnd: 2 });
    expect(install.some((c) => c.pageStart === 1 && c.pageEnd === 2)).toBe(true);
    expect(chunks.filter((c) => c.headings[0] === 'Network').map((c) => [c.pageStart, c.pageEnd])).toEqual([[3, 3]]);
  });
});
