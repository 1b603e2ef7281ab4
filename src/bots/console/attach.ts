import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { attachmentFetchLimit, isReadableText } from '../../core/context/attachments.js';
import type { Attachment } from '../../core/inbound.js';

const MIME_TYPES: Record<string, string> = {
  '.pdf': 'application/pdf',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
};

function mimeTypeOf(name: string): string {
  return MIME_TYPES[path.extname(name).toLowerCase()] ?? (isReadableText({ name, mimeType: '' }) ? 'text/plain' : 'application/octet-stream');
}

/**
 * The terminal's way to attach: a word `@path` naming a file is taken out of the line and the file
 * attached, read under the same limits as a chat platform's download. `@word` that names no file
 * stays in the text.
 */
export async function attachmentsOfLine(line: string, cwd = process.cwd()): Promise<{ text: string; attachments: Attachment[] }> {
  const attachments: Attachment[] = [];
  const kept: string[] = [];
  for (const word of line.split(/\s+/)) {
    const spec = /^@(\S+)$/.exec(word)?.[1];
    const file = spec ? path.resolve(cwd, spec.replace(/^~(?=\/|$)/, os.homedir())) : null;
    const info = file ? await stat(file).catch(() => null) : null;
    if (!file || !info?.isFile()) {
      kept.push(word);
      continue;
    }
    const name = path.basename(file);
    const mimeType = mimeTypeOf(name);
    const data = info.size <= attachmentFetchLimit({ name, mimeType }) ? (await readFile(file)).toString('base64') : null;
    attachments.push({ name, mimeType, data, url: null, size: info.size });
  }
  return attachments.length === 0 ? { text: line, attachments } : { text: kept.join(' ').trim(), attachments };
}
