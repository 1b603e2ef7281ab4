import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSecretBox, SecretBox, SECRET_KEY_FILE, UNDECRYPTABLE } from '../../src/core/secrets.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'threadloom-secrets-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe(SecretBox.name, () => {
  it('should seal a value as v1:<iv>:<tag>:<data> and open it again', () => {
    const box = loadSecretBox(path.join(dir, 'data'), {});
    const sealed = box.seal('sk-live-0123456789');
    expect(sealed).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(sealed).not.toContain('sk-live');
    expect(box.open(sealed)).toBe('sk-live-0123456789');
    // a fresh IV each time: the same key never seals to the same text
    expect(box.seal('sk-live-0123456789')).not.toBe(sealed);
  });

  it('should refuse a sealed value with any byte changed', () => {
    const box = loadSecretBox(dir, {});
    const sealed = box.seal('sk-live-0123456789');
    const [v, iv, tag, data] = sealed.split(':') as [string, string, string, string];
    const flip = (b64: string): string => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString('base64');
    };
    for (const tampered of [[v, iv, tag, flip(data)], [v, iv, flip(tag), data], [v, flip(iv), tag, data]]) {
      expect(() => box.open(tampered.join(':'))).toThrow(UNDECRYPTABLE);
    }
  });

  it('should make the key file with mode 600 in a 700 directory, and reuse it', () => {
    const dataDir = path.join(dir, 'data');
    const first = loadSecretBox(dataDir, {});
    expect(first.source).toBe('generated');
    const file = path.join(dataDir, SECRET_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const sealed = first.seal('abc');
    const again = loadSecretBox(dataDir, {});
    expect(again.source).toBe('file');
    expect(again.open(sealed)).toBe('abc');
    expect(readFileSync(file, 'utf8').trim().length).toBeGreaterThan(40);
  });

  it('should take THREADLOOM_SECRET_KEY over the file, and say what to do when the key changed', () => {
    const sealed = loadSecretBox(dir, { THREADLOOM_SECRET_KEY: 'first passphrase' }).seal('sk-1');
    expect(loadSecretBox(dir, { THREADLOOM_SECRET_KEY: 'first passphrase' }).open(sealed)).toBe('sk-1');
    const changed = loadSecretBox(dir, { THREADLOOM_SECRET_KEY: 'another passphrase' });
    expect(changed.source).toBe('env');
    expect(() => changed.open(sealed)).toThrow('cannot decrypt the key — was THREADLOOM_SECRET_KEY changed? re-enter the key');
    // the env key made no file
    expect(() => statSync(path.join(dir, SECRET_KEY_FILE))).toThrow();
  });
});
