import { describe, expect, it } from 'vitest';
import { ThreadloomError } from '../../../src/core/errors.js';
import { extractDocument, NO_TEXT_LAYER_MESSAGE } from '../../../src/core/knowledge/extract/index.js';
import type { ExtractLimits, IncomingFile } from '../../../src/core/knowledge/types.js';
import { greyPng, makeDocx, makePdf, manualPdf } from './files.js';

const limits: ExtractLimits = { maxBytes: 20 * 1024 * 1024, maxPages: 50, maxChars: 100_000 };
const file = (name: string, bytes: Uint8Array | string, mimeType = ''): IncomingFile => ({ name, mimeType, bytes: typeof bytes === 'string' ? Buffer.from(bytes) : bytes });

async function refusal(promise: Promise<unknown>): Promise<ThreadloomError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ThreadloomError);
  return err as ThreadloomError;
}

describe('extractDocument', () => {
  describe('PDF', () => {
    it('should read text per page with headings found by font size', async () => {
      const doc = await extractDocument(file('manual.pdf', await manualPdf(), 'application/pdf'), limits);
      expect(doc).toMatchObject({ format: 'pdf', title: 'Threadloom Manual', pageCount: 4 });
      const headings = doc.blocks.filter((b) => b.kind === 'heading');
      expect(headings.map((h) => [h.text, h.page])).toEqual([
        ['Installation', 1],
        ['Network settings', 2],
      ]);
      const port = doc.blocks.find((b) => b.text.startsWith('Open port 8787'));
      expect(port).toMatchObject({ page: 2, headings: ['Network settings'], kind: 'paragraph' });
      // two paragraphs on page 1, each whole though drawn as several lines
      expect(doc.blocks.filter((b) => b.page === 1 && b.kind === 'paragraph').map((b) => b.text.slice(0, 20))).toEqual(['Unpack the archive a', 'The installer asks f']);
    });

    it('should list a page without a text layer and say its content was not read', async () => {
      const doc = await extractDocument(file('manual.pdf', await manualPdf()), limits);
      expect(doc.pagesWithoutText).toEqual([3]);
      expect(doc.notes).toContain('page 3 has no text layer (scanned?); its content was not read');
      expect(doc.blocks.some((b) => b.page === 4 && b.text.startsWith('Troubleshooting'))).toBe(true);
    });

    it('should rank heading sizes into levels across pages', async () => {
      const pdf = await makePdf([
        { heading: 'Guide', paragraphs: ['Welcome text.'] },
        { subheading: 'Ports', paragraphs: ['Open 8787.'] },
        { heading: 'Appendix', subheading: 'Glossary', paragraphs: ['Terms.'] },
      ]);
      const doc = await extractDocument(file('guide.pdf', pdf), limits);
      expect(doc.blocks.filter((b) => b.kind !== 'heading').map((b) => [b.text, b.headings])).toEqual([
        ['Welcome text.', ['Guide']],
        ['Open 8787.', ['Guide', 'Ports']],
        ['Terms.', ['Appendix', 'Glossary']],
      ]);
    });

    it('should name every page without text', async () => {
      const pdf = await makePdf([{ paragraphs: ['One.'] }, { scanned: true }, { paragraphs: ['Three.'] }, { scanned: true }]);
      const doc = await extractDocument(file('mixed.pdf', pdf), limits);
      expect(doc.notes).toEqual(['pages 2, 4 have no text layer (scanned?); their content was not read']);
    });

    it('should refuse a PDF with no text layer at all, telling the user to OCR it', async () => {
      const scan = await makePdf([{ scanned: true }, { scanned: true }]);
      const err = await refusal(extractDocument(file('scan.pdf', scan), limits));
      expect(err.userMessage).toBe(NO_TEXT_LAYER_MESSAGE);
    });

    it('should take the first heading as the title when the PDF has none, else the file name', async () => {
      const titled = await extractDocument(file('x.pdf', await makePdf([{ heading: 'Field Guide', paragraphs: ['Body text here.'] }])), limits);
      expect(titled.title).toBe('Field Guide');
      const plain = await extractDocument(file('notes.2026.pdf', await makePdf([{ paragraphs: ['Only body text.'] }])), limits);
      expect(plain.title).toBe('notes.2026');
    });

    it('should read the first maxPages pages and say how many there were', async () => {
      const pages = Array.from({ length: 5 }, (_, i) => ({ paragraphs: [`Text of page ${i + 1}.`] }));
      const doc = await extractDocument(file('long.pdf', await makePdf(pages)), { ...limits, maxPages: 2 });
      expect(doc.pageCount).toBe(5);
      expect(doc.blocks.map((b) => b.page)).toEqual([1, 2]);
      expect(doc.notes).toContain('read the first 2 of 5 pages');
    });

    it('should read a PDF by its bytes whatever its name and type say', async () => {
      const doc = await extractDocument(file('download.bin', await manualPdf(), 'application/octet-stream'), limits);
      expect(doc.format).toBe('pdf');
    });
  });

  describe('DOCX', () => {
    it('should keep heading paths, paragraphs and a table as pipe rows', async () => {
      const doc = await extractDocument(file('ops.docx', await makeDocx()), limits);
      expect(doc.format).toBe('docx');
      expect(doc.title).toBe('Operations Guide');
      expect(doc.blocks.find((b) => b.text.startsWith('Stop the service'))).toMatchObject({ headings: ['Operations Guide', 'Restore'], kind: 'paragraph' });
      expect(doc.blocks.find((b) => b.kind === 'table')).toMatchObject({
        text: 'Setting | Default\nretention | 14 days\nschedule | 02:00',
        headings: ['Operations Guide', 'Restore'],
      });
      expect(doc.blocks.find((b) => b.text.startsWith('The admin page'))?.headings).toEqual(['Monitoring']);
      expect(doc.blocks.some((b) => b.text === 'Backups run every night at two. Keep them off-site.')).toBe(true);
    });
  });

  describe('Markdown', () => {
    it('should keep headings, code blocks and tables', async () => {
      const md = ['# Guide', '', 'Intro text.', '', '## Setup', '', '```sh', 'npm install', '```', '', '| a | b |', '|---|---|', '| 1 | 2 |', '', '- one', '- two'].join('\n');
      const doc = await extractDocument(file('guide.md', md), limits);
      expect(doc.title).toBe('Guide');
      expect(doc.blocks.map((b) => [b.kind, b.headings.join(' › ')])).toEqual([
        ['heading', 'Guide'],
        ['paragraph', 'Guide'],
        ['heading', 'Guide › Setup'],
        ['code', 'Guide › Setup'],
        ['table', 'Guide › Setup'],
        ['list', 'Guide › Setup'],
      ]);
      expect(doc.blocks[3]!.text).toBe('npm install');
      expect(doc.blocks[4]!.text).toContain('| 1 | 2 |');
    });

    it('should read raw HTML in Markdown as HTML', async () => {
      const doc = await extractDocument(file('notes.md', '# Notes\n\n<div class="tip"><script>track()</script><p>Keep a spare key.</p></div>\n'), limits);
      expect(doc.blocks.map((b) => b.text)).toEqual(['Notes', 'Keep a spare key.']);
      expect(doc.blocks[1]!.headings).toEqual(['Notes']);
    });
  });

  describe('HTML', () => {
    it('should read the title and headings and leave scripts and styles out', async () => {
      const html = '<html><head><title>Help &amp; FAQ</title><style>p{color:red}</style></head><body><script>stealCookies()</script><h1>Help</h1><p>Read <b>this</b> first.</p><h2>Accounts</h2><p>Reset your password.</p></body></html>';
      const doc = await extractDocument(file('help.html', html), limits);
      expect(doc.title).toBe('Help & FAQ');
      expect(doc.blocks.find((b) => b.text === 'Reset your password.')?.headings).toEqual(['Help', 'Accounts']);
      const all = doc.blocks.map((b) => b.text).join('\n');
      expect(all).not.toContain('stealCookies');
      expect(all).not.toContain('color:red');
    });
  });

  describe('CSV', () => {
    it('should repeat the header row at the start of every block', async () => {
      const rows = Array.from({ length: 45 }, (_, i) => `item ${i},"${i}, more",${i * 2}`);
      const doc = await extractDocument(file('stock.csv', ['name,note,qty', ...rows].join('\n'), 'text/csv'), limits);
      expect(doc.blocks).toHaveLength(3);
      for (const block of doc.blocks) {
        expect(block.kind).toBe('table');
        expect(block.text.split('\n')[0]).toBe('name | note | qty');
      }
      expect(doc.blocks[0]!.text.split('\n')[1]).toBe('item 0 | 0, more | 0');
      expect(doc.blocks[2]!.text.split('\n')).toHaveLength(1 + 5);
    });
  });

  describe('text', () => {
    it('should split paragraphs on blank lines', async () => {
      const doc = await extractDocument(file('notes.txt', 'First line\nsame paragraph.\n\n\nSecond paragraph.\r\n\r\nThird.'), limits);
      expect(doc.blocks.map((b) => b.text)).toEqual(['First line\nsame paragraph.', 'Second paragraph.', 'Third.']);
      expect(doc.title).toBe('notes');
    });

    it('should cut at maxChars and say so', async () => {
      const doc = await extractDocument(file('big.txt', 'a'.repeat(500) + '\n\n' + 'b'.repeat(500)), { ...limits, maxChars: 600 });
      expect(doc.blocks.map((b) => b.text.length)).toEqual([500, 100]);
      expect(doc.notes).toEqual(['cut at 600 characters of text; the rest was not read']);
    });
  });

  describe('limits and formats', () => {
    it('should refuse a file over maxBytes, naming the limit', async () => {
      const err = await refusal(extractDocument(file('huge.txt', 'x'.repeat(3 * 1024 * 1024)), { ...limits, maxBytes: 2 * 1024 * 1024 }));
      expect(err.userMessage).toBe('"huge.txt" is 3 MB; files up to 2 MB are read.');
    });

    it('should refuse an image, saying which formats are read', async () => {
      const err = await refusal(extractDocument(file('photo.png', greyPng(), 'image/png'), limits));
      expect(err.code).toBe('invalid');
      expect(err.userMessage).toBe('"photo.png" can\'t be read: only PDF, Word (.docx), Markdown, HTML, CSV and plain text files are read.');
    });

    it('should refuse a damaged PDF or Word file, saying it looks damaged', async () => {
      const pdf = await refusal(extractDocument(file('cut.pdf', (await manualPdf()).slice(0, 1500)), limits));
      expect(pdf.userMessage).toBe('"cut.pdf" could not be read as a PDF: the file looks damaged.');
      const docx = await refusal(extractDocument(file('cut.docx', (await makeDocx()).slice(0, 3000)), limits));
      expect(docx.userMessage).toBe('"cut.docx" could not be read as a Word document: the file looks damaged.');
    });

    it('should refuse a file named .pdf that is not a PDF', async () => {
      const err = await refusal(extractDocument(file('fake.pdf', greyPng()), limits));
      expect(err.userMessage).toContain('is named as a PDF but is not one');
    });
  });
});
