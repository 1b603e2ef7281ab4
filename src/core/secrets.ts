import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { ThreadloomError } from './errors.js';

/**
 * Secrets made in the admin (provider API keys; later MCP server headers) are stored sealed with
 * AES-256-GCM: a fresh 12-byte IV per value and the 16-byte auth tag, as `v1:<iv>:<tag>:<data>`
 * in base64. The key comes from THREADLOOM_SECRET_KEY, else from `<dataDir>/secret-key`, made on
 * first use with mode 600. A backup of the database alone opens none of them.
 */

export const SECRET_KEY_ENV = 'THREADLOOM_SECRET_KEY';
export const SECRET_KEY_FILE = 'secret-key';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** What to tell the admin when a stored secret no longer opens. */
export const UNDECRYPTABLE = `cannot decrypt the key — was ${SECRET_KEY_ENV} changed? re-enter the key`;

export class SecretBox {
  constructor(
    private readonly key: Buffer,
    /** where the key came from: the variable, the existing file, or a file made just now */
    readonly source: 'env' | 'file' | 'generated',
  ) {}

  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), data.toString('base64')].join(':');
  }

  /** The plain text; a ThreadloomError('config') saying UNDECRYPTABLE when it does not open. */
  open(sealed: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 4 || parts[0] !== VERSION) {
      throw new ThreadloomError('config', `a stored secret is not in the ${VERSION} format`, { userMessage: UNDECRYPTABLE });
    }
    const [, iv, tag, data] = parts.map((p) => Buffer.from(p, 'base64')) as [Buffer, Buffer, Buffer, Buffer];
    try {
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('bad iv or tag length');
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new ThreadloomError('config', UNDECRYPTABLE, { cause: err, userMessage: UNDECRYPTABLE });
    }
  }
}

/** Any text (a passphrase or 32 random bytes in base64) becomes a 256-bit key. */
function deriveKey(secret: string): Buffer {
  const salt = createHash('sha256').update('threadloom secrets').digest();
  return Buffer.from(hkdfSync('sha256', secret, salt, 'aes-256-gcm v1', 32));
}

/** The secret box of this data directory: the env key, else the key file (made when missing). */
export function loadSecretBox(dataDir: string, env: Record<string, string | undefined> = process.env): SecretBox {
  const configured = env[SECRET_KEY_ENV];
  if (configured) return new SecretBox(deriveKey(configured), 'env');
  const file = path.join(dataDir, SECRET_KEY_FILE);
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (!secret) throw new ThreadloomError('config', `${file} is empty; restore it from a backup, or set ${SECRET_KEY_ENV}`);
    return new SecretBox(deriveKey(secret), 'file');
  }
  const secret = randomBytes(32).toString('base64');
  writeFileAtomic(file, Buffer.from(`${secret}\n`));
  return new SecretBox(deriveKey(secret), 'generated');
}
