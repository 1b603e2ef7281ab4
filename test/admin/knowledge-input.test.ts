import type { MultipartFile } from '@fastify/multipart';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { overUploadResult, readFilePart, type UploadBudget } from '../../src/admin/knowledge-input.js';

/** A file part as @fastify/multipart hands it over: its bytes in pieces, cut at the size limit or not. */
function part(filename: string, pieces: string[], truncated = false): MultipartFile {
  const file = Object.assign(Readable.from(pieces.map((p) => Buffer.from(p))), { truncated });
  return { filename, mimetype: 'text/plain', file } as unknown as MultipartFile;
}

describe(readFilePart.name, () => {
  it('should keep files while the upload has room, then read the rest to their end without keeping them', async () => {
    const budget: UploadBudget = { maxBytes: 100, left: 100 };
    const first = await readFilePart(part('a.txt', ['x'.repeat(30), 'y'.repeat(30)]), budget);
    const second = await readFilePart(part('b.txt', ['z'.repeat(50)]), budget);
    const third = await readFilePart(part('c.txt', ['w'.repeat(40)]), budget);
    expect([first, second, third].map((f) => [f.name, f.bytes.length, f.overUpload])).toEqual([['a.txt', 60, false], ['b.txt', 0, true], ['c.txt', 40, false]]);
    expect(budget.left).toBe(0);
    expect(overUploadResult(second, budget)).toEqual({
      name: 'b.txt', outcome: 'refused', message: 'The files in this upload come to more than 100 B; this one was not read. Add it in another upload.', documentId: null,
    });
  });

  it('should keep nothing of a file cut at the size limit, and leave the upload its room', async () => {
    const budget: UploadBudget = { maxBytes: 100, left: 100 };
    const cut = await readFilePart(part('huge.pdf', ['%PDF-'.repeat(8)], true), budget);
    expect(cut).toMatchObject({ name: 'huge.pdf', tooLarge: true, overUpload: false });
    expect(cut.bytes.length).toBe(0);
    expect(budget.left).toBe(100);
  });
});
