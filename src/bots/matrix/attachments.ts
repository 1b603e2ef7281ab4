import { createDecipheriv, createHash } from 'node:crypto';
import type { MatrixClient } from 'matrix-js-sdk';
import { attachmentFetchLimit } from '../../core/context/attachments.js';
import type { Attachment } from '../../core/inbound.js';

const FETCH_TIMEOUT_MS = 10_000;

/** An attachment in an encrypted room: the file is AES-CTR encrypted, its key in the event. */
interface EncryptedFile {
  url: string;
  key: { k: string };
  iv: string;
  hashes: { sha256: string };
}

const unpaddedBase64 = (text: string): Buffer => Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');

function decryptFile(data: Buffer, file: EncryptedFile): Buffer | null {
  const hash = createHash('sha256').update(data).digest('base64').replace(/=+$/, '');
  if (hash !== file.hashes.sha256.replace(/=+$/, '')) return null;
  const decipher = createDecipheriv('aes-256-ctr', unpaddedBase64(file.key.k), unpaddedBase64(file.iv));
  return Buffer.concat([decipher.update(data), decipher.final()]);
}

/** Downloads through the authenticated media API (Matrix 1.11+), with the bot's token. */
async function download(client: MatrixClient, mxc: string, limit: number): Promise<Buffer | null> {
  const match = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(mxc);
  if (!match) return null;
  try {
    const response = await fetch(`${client.getHomeserverUrl().replace(/\/+$/, '')}/_matrix/client/v1/media/download/${encodeURIComponent(match[1]!)}/${encodeURIComponent(match[2]!)}`, {
      headers: { authorization: `Bearer ${client.getAccessToken()}` },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (!response.ok) return null;
    const data = Buffer.from(await response.arrayBuffer());
    return data.length <= limit ? data : null;
  } catch {
    return null;
  }
}

/** An image or file message's attachment, downloaded (and decrypted) when small enough to use. */
export async function attachmentsOf(client: MatrixClient, content: Record<string, unknown>): Promise<Attachment[]> {
  const msgtype = content.msgtype;
  if (msgtype !== 'm.image' && msgtype !== 'm.file') return [];
  const info = (content.info ?? {}) as { mimetype?: string; size?: number };
  const name = typeof content.filename === 'string' ? content.filename : typeof content.body === 'string' ? content.body : 'file';
  const mimeType = info.mimetype ?? 'application/octet-stream';
  const encrypted = content.file as EncryptedFile | undefined;
  const mxc = encrypted?.url ?? (typeof content.url === 'string' ? content.url : null);
  const limit = attachmentFetchLimit({ name, mimeType });
  let data: string | null = null;
  if (mxc && limit > 0 && (info.size ?? 0) <= limit) {
    const fetched = await download(client, mxc, limit);
    const plain = fetched && encrypted ? decryptFile(fetched, encrypted) : fetched;
    data = plain ? plain.toString('base64') : null;
  }
  return [{ name, mimeType, data, url: encrypted ? null : mxc, size: info.size ?? null }];
}
