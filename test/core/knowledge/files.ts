import { Document, HeadingLevel, Packer, Paragraph, Table, TableCell, TableRow, TextRun } from 'docx';
import { concatTransformationMatrix, drawObject, PDFDocument, PDFName, popGraphicsState, pushGraphicsState, StandardFonts } from 'pdf-lib';
import { deflateSync } from 'node:zlib';

/** Real files for the extraction tests, made by the libraries people make them with. */

const words = (seed: string, n: number): string => Array.from({ length: n }, (_, i) => `${seed}${i % 7 === 6 ? '.' : ''}`).join(' ');

/** A 4×4 grey PNG, built by hand from its chunks so the "scan" needs no image file in the repo. */
export function greyPng(): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer): number => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(4, 0);
  ihdr.writeUInt32BE(4, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const rows = Buffer.concat(Array.from({ length: 4 }, () => Buffer.from([0, 128, 128, 128, 128])));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

export interface PdfPage {
  heading?: string;
  /** set smaller than the heading, larger than the body */
  subheading?: string;
  paragraphs?: string[];
  /** only an image, no text: a scanned page */
  scanned?: boolean;
}

export async function makePdf(pages: PdfPage[], title?: string): Promise<Uint8Array> {
  return (await buildPdf(pages, title)).save();
}

/**
 * A PDF of `pages` followed by one page holding a photo-sized image of `imageBytes` raw RGB bytes
 * (a large scan or photo, as in a manual that is mostly pictures): big on disk, text only in `pages`.
 */
export async function makeLargePdf(pages: PdfPage[], imageBytes: number): Promise<Uint8Array> {
  const doc = await buildPdf(pages);
  const width = 4096;
  const height = Math.ceil(imageBytes / (width * 3));
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < pixels.length; i += 4099) pixels[i] = i & 0xff;
  const image = doc.context.register(
    doc.context.stream(pixels, { Type: 'XObject', Subtype: 'Image', Width: width, Height: height, ColorSpace: 'DeviceRGB', BitsPerComponent: 8 }),
  );
  const page = doc.addPage([600, 800]);
  page.node.setXObject(PDFName.of('Photo'), image);
  page.pushOperators(pushGraphicsState(), concatTransformationMatrix(520, 0, 0, 720, 40, 40), drawObject('Photo'), popGraphicsState());
  return doc.save({ useObjectStreams: false });
}

async function buildPdf(pages: PdfPage[], title?: string): Promise<PDFDocument> {
  const doc = await PDFDocument.create();
  if (title) doc.setTitle(title);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const png = await doc.embedPng(greyPng());
  for (const spec of pages) {
    const page = doc.addPage([600, 800]);
    if (spec.scanned) {
      page.drawImage(png, { x: 40, y: 40, width: 520, height: 720 });
      continue;
    }
    let y = 740;
    if (spec.heading) {
      page.drawText(spec.heading, { x: 50, y, size: 22, font });
      y -= 40;
    }
    if (spec.subheading) {
      page.drawText(spec.subheading, { x: 50, y, size: 16, font });
      y -= 30;
    }
    for (const paragraph of spec.paragraphs ?? []) {
      // wrap at ~90 characters a line, 14 pt apart; paragraphs 28 pt apart
      const lines = paragraph.match(/.{1,90}(\s|$)/g) ?? [];
      for (const line of lines) {
        page.drawText(line.trim(), { x: 50, y, size: 11, font });
        y -= 14;
      }
      y -= 14;
    }
  }
  return doc;
}

/** A three-page manual: headings on pages 1 and 2, a scanned page 3, text again on page 4. */
export function manualPdf(): Promise<Uint8Array> {
  return makePdf(
    [
      { heading: 'Installation', paragraphs: [`Unpack the archive and run the installer. ${words('setup', 30)}`, `The installer asks for a data folder. ${words('folder', 20)}`] },
      { heading: 'Network settings', paragraphs: [`Open port 8787 on the firewall. ${words('port', 30)}`] },
      { scanned: true },
      { paragraphs: [`Troubleshooting continues here without a heading. ${words('trouble', 20)}`] },
    ],
    'Threadloom Manual',
  );
}

export async function makeDocx(): Promise<Uint8Array> {
  const cell = (text: string): TableCell => new TableCell({ children: [new Paragraph(text)] });
  const doc = new Document({
    sections: [
      {
        children: [
          new Paragraph({ text: 'Operations Guide', heading: HeadingLevel.HEADING_1 }),
          new Paragraph({ children: [new TextRun('Backups run every night at two. '), new TextRun({ text: 'Keep them off-site.', bold: true })] }),
          new Paragraph({ text: 'Restore', heading: HeadingLevel.HEADING_2 }),
          new Paragraph('Stop the service before restoring a backup.'),
          new Table({
            rows: [
              new TableRow({ children: [cell('Setting'), cell('Default')] }),
              new TableRow({ children: [cell('retention'), cell('14 days')] }),
              new TableRow({ children: [cell('schedule'), cell('02:00')] }),
            ],
          }),
          new Paragraph({ text: 'Monitoring', heading: HeadingLevel.HEADING_1 }),
          new Paragraph('The admin page shows the last backup.'),
        ],
      },
    ],
  });
  return new Uint8Array(await Packer.toBuffer(doc));
}
