import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createConsoleAdapter } from '../../../src/bots/console/index.js';
import { attachmentsOf as slackAttachmentsOf } from '../../../src/bots/slack/inbound.js';
import { attachmentFetchLimit, DOCUMENT_ATTACHMENT_MAX_BYTES, withAttachmentText } from '../../../src/core/context/attachments.js';
import type { Attachment } from '../../../src/core/inbound.js';
import { RecordingReply, inbound } from '../../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../../support/runtime.js';
import { answerRequests } from '../../support/wait.js';
import { makeDocx, makePdf, manualPdf } from './files.js';

const attached = (name: string, mimeType: string, bytes: Uint8Array): Attachment => ({ name, mimeType, size: bytes.length, data: Buffer.from(bytes).toString('base64'), url: null });

describe('document attachments', () => {
  describe('in a chat turn', () => {
    let rt: TestRuntime;
    beforeAll(async () => {
      rt = await startTestRuntime();
    });
    afterAll(async () => {
      await rt.shutdown();
    });

    it('should read an attached PDF into the prompt the model gets, with its pages marked', async () => {
      const pdf = attached('manual.pdf', 'application/pdf', await manualPdf());
      await rt.engine.handle(inbound('which port do I open?', { attachments: [pdf] }), new RecordingReply());
      const [request] = answerRequests(rt);
      const prompt = JSON.stringify(request!.body.messages);
      expect(prompt).toContain('which port do I open?');
      expect(prompt).toContain('[file \\"manual.pdf\\", pages 1–4 of 4, page 3 has no text layer (scanned?); its content was not read]');
      expect(prompt).toContain('— page 2 —');
      expect(prompt).toContain('Open port 8787 on the firewall.');
      // the text is in the message; the PDF's bytes are not stored a second time
      const stored = await rt.deps.db.selectFrom('attachments').select(['name', 'data']).where('name', '=', 'manual.pdf').execute();
      expect(stored).toEqual([{ name: 'manual.pdf', data: null }]);
    });

    it('should attach a file named @path in the console', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-attach-'));
      try {
        writeFileSync(path.join(dir, 'ops.docx'), await makeDocx());
        const input = new PassThrough();
        const output = new PassThrough();
        output.resume();
        const adapter = createConsoleAdapter({ engine: rt.engine, experienceSlug: 'general', input, output });
        await adapter.start();
        input.end(`@${path.join(dir, 'ops.docx')} when do backups run? ask @nobody\n`);
        await adapter.done;
        const prompt = JSON.stringify(answerRequests(rt).at(-1)!.body.messages);
        expect(prompt).toContain('when do backups run? ask @nobody');
        expect(prompt).toContain('[file \\"ops.docx\\"]');
        expect(prompt).toContain('Backups run every night at two.');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe(withAttachmentText.name, () => {
    it('should inline a DOCX with its headings and table', async () => {
      const text = await withAttachmentText('summarise', [attached('ops.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', await makeDocx())]);
      expect(text).toContain('[file "ops.docx"]');
      expect(text).toContain('# Operations Guide');
      expect(text).toContain('## Restore');
      expect(text).toContain('retention | 14 days');
    });

    it('should say when only the first pages were read', async () => {
      const pages = Array.from({ length: 55 }, (_, i) => ({ paragraphs: [`Page ${i + 1} text.`] }));
      const text = await withAttachmentText('', [attached('long.pdf', 'application/pdf', await makePdf(pages))]);
      expect(text).toContain('[file "long.pdf", pages 1–50 of 55]');
      expect(text).toContain('Page 50 text.');
      expect(text).not.toContain('Page 51 text.');
    });

    it('should give a scanned PDF a one-line note saying why it was not read', async () => {
      const text = await withAttachmentText('', [attached('scan.pdf', 'application/pdf', await makePdf([{ scanned: true }]))]);
      expect(text).toMatch(/^\[attachment "scan\.pdf" \(application\/pdf, \d+ KB\) was not read: This PDF has no text layer \(a scan\?\): there is nothing to index\. Run it through OCR first\.\]$/);
    });

    it('should note a document too big to download', async () => {
      const big: Attachment = { name: 'atlas.pdf', mimeType: 'application/pdf', size: DOCUMENT_ATTACHMENT_MAX_BYTES + 1, data: null, url: 'https://files.example/atlas.pdf' };
      expect(await withAttachmentText('', [big])).toContain('was not read: files over 20 MB are not read]');
    });
  });

  describe('adapter downloads', () => {
    it('should have the Slack adapter download an attached PDF so it can be read', async () => {
      const pdf = await manualPdf();
      const server = createServer((req, res) => {
        res.writeHead(req.headers.authorization === 'Bearer xoxb-test' ? 200 : 403, { 'content-type': 'application/pdf' }).end(pdf);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/files/manual.pdf`;
        const [file] = await slackAttachmentsOf([{ name: 'manual.pdf', mimetype: 'application/pdf', size: pdf.length, url_private: url }], 'xoxb-test');
        expect(file!.data).not.toBeNull();
        expect(await withAttachmentText('', [file!])).toContain('Open port 8787 on the firewall.');
      } finally {
        server.close();
      }
    });
  });

  describe(attachmentFetchLimit.name, () => {
    it('should have adapters download PDFs and Word files as well as images and text', () => {
      expect(attachmentFetchLimit({ name: 'manual.pdf', mimeType: 'application/octet-stream' })).toBe(DOCUMENT_ATTACHMENT_MAX_BYTES);
      expect(attachmentFetchLimit({ name: 'x', mimeType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' })).toBe(DOCUMENT_ATTACHMENT_MAX_BYTES);
      expect(attachmentFetchLimit({ name: 'notes.txt', mimeType: 'text/plain' })).toBeGreaterThan(0);
      expect(attachmentFetchLimit({ name: 'backup.tar.gz', mimeType: 'application/gzip' })).toBe(0);
    });
  });
});
