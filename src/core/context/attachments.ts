import type { Attachment } from '../inbound.js';

/** Text files are read into the message up to this many characters; the rest is cut and said so. */
export const TEXT_ATTACHMENT_MAX_CHARS = 60_000;

const TEXT_EXTENSIONS = /\.(txt|md|markdown|log|csv|tsv|json|jsonl|ya?ml|toml|ini|conf|cfg|env\.example|xml|html?|css|scss|js|mjs|cjs|ts|tsx|jsx|py|rb|go|rs|java|kt|c|h|cc|cpp|hpp|cs|php|sh|bash|zsh|fish|ps1|sql|lua|pl|r|swift|dockerfile|tf|hcl|nix|service|diff|patch)$/i;

export function isImage(attachment: Attachment): boolean {
  return attachment.mimeType.startsWith('image/');
}

/** Text an adapter should download (as base64 `data`) so the model can read it. */
export function isReadableText(attachment: Pick<Attachment, 'name' | 'mimeType'>): boolean {
  const type = attachment.mimeType;
  return type.startsWith('text/') || /json|xml|yaml|toml|javascript|typescript|x-sh|x-python|sql/.test(type) || TEXT_EXTENSIONS.test(attachment.name) || /^(Dockerfile|Makefile)$/i.test(attachment.name);
}

function fenceFor(text: string): string {
  let fence = '```';
  while (text.includes(fence)) fence += '`';
  return fence;
}

/**
 * The message as the model reads it: text files inlined as fenced blocks, and a one-line note for
 * anything neither an image nor readable text. Images travel separately (context builder).
 */
export function withAttachmentText(text: string, attachments: Attachment[]): string {
  const parts = [text];
  for (const a of attachments) {
    if (isImage(a)) continue;
    if (a.data !== null && isReadableText(a)) {
      let body = Buffer.from(a.data, 'base64').toString('utf8');
      const cut = body.length > TEXT_ATTACHMENT_MAX_CHARS;
      if (cut) body = body.slice(0, TEXT_ATTACHMENT_MAX_CHARS);
      const fence = fenceFor(body);
      parts.push(`[file "${a.name}"${cut ? `, first ${TEXT_ATTACHMENT_MAX_CHARS} characters` : ''}]\n${fence}\n${body}\n${fence}`);
    } else {
      const size = a.size !== null ? `, ${Math.ceil(a.size / 1024)} KB` : '';
      parts.push(`[attachment "${a.name}" (${a.mimeType}${size}) was not read: only images and text files are]`);
    }
  }
  return parts.filter((p) => p !== '').join('\n\n');
}
