import { ThreadloomError } from '../errors.js';
import type { Attachment } from '../inbound.js';
import { extractDocument, pagesReadNote } from '../knowledge/extract/index.js';
import type { ExtractedDocument } from '../knowledge/types.js';

/** Text files are read into the message up to this many characters; the rest is cut and said so. */
export const TEXT_ATTACHMENT_MAX_CHARS = 60_000;
/** What adapters download at most, by kind of attachment; anything else stays a link. */
export const IMAGE_ATTACHMENT_MAX_BYTES = 8 * 1024 * 1024;
export const TEXT_ATTACHMENT_MAX_BYTES = 256 * 1024;
export const DOCUMENT_ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024;
/** PDF pages read into a message at most; the reader is told how many there were. */
export const DOCUMENT_ATTACHMENT_MAX_PAGES = 50;

const TEXT_EXTENSIONS = /\.(txt|md|markdown|log|csv|tsv|json|jsonl|ya?ml|toml|ini|conf|cfg|env\.example|xml|html?|css|scss|js|mjs|cjs|ts|tsx|jsx|py|rb|go|rs|java|kt|c|h|cc|cpp|hpp|cs|php|sh|bash|zsh|fish|ps1|sql|lua|pl|r|swift|dockerfile|tf|hcl|nix|service|diff|patch)$/i;
const DOCUMENT_TYPES = /^application\/(pdf|vnd\.openxmlformats-officedocument\.wordprocessingml\.document)$/;

export function isImage(attachment: Attachment): boolean {
  return attachment.mimeType.startsWith('image/');
}

/** Text an adapter should download (as base64 `data`) so the model can read it. */
export function isReadableText(attachment: Pick<Attachment, 'name' | 'mimeType'>): boolean {
  const type = attachment.mimeType;
  return type.startsWith('text/') || /json|xml|yaml|toml|javascript|typescript|x-sh|x-python|sql/.test(type) || TEXT_EXTENSIONS.test(attachment.name) || /^(Dockerfile|Makefile)$/i.test(attachment.name);
}

/** A PDF or Word file, read into the message by the knowledge extraction. */
export function isReadableDocument(attachment: Pick<Attachment, 'name' | 'mimeType'>): boolean {
  return DOCUMENT_TYPES.test(attachment.mimeType) || /\.(pdf|docx)$/i.test(attachment.name);
}

/** The most bytes an adapter downloads for this attachment: 0 when the model can't use it anyway. */
export function attachmentFetchLimit(attachment: Pick<Attachment, 'name' | 'mimeType'>): number {
  if (attachment.mimeType.startsWith('image/')) return IMAGE_ATTACHMENT_MAX_BYTES;
  if (isReadableDocument(attachment)) return DOCUMENT_ATTACHMENT_MAX_BYTES;
  return isReadableText(attachment) ? TEXT_ATTACHMENT_MAX_BYTES : 0;
}

function fenceFor(text: string): string {
  let fence = '```';
  while (text.includes(fence)) fence += '`';
  return fence;
}

function inlined(header: string, body: string): string {
  const fence = fenceFor(body);
  return `[${header}]\n${fence}\n${body}\n${fence}`;
}

function notRead(a: Attachment, why: string): string {
  const size = a.size !== null ? `, ${Math.ceil(a.size / 1024)} KB` : '';
  return `[attachment "${a.name}" (${a.mimeType}${size}) was not read: ${why}]`;
}

function textPart(a: Attachment & { data: string }): string {
  let body = Buffer.from(a.data, 'base64').toString('utf8');
  const cut = body.length > TEXT_ATTACHMENT_MAX_CHARS;
  if (cut) body = body.slice(0, TEXT_ATTACHMENT_MAX_CHARS);
  return inlined(`file "${a.name}"${cut ? `, first ${TEXT_ATTACHMENT_MAX_CHARS} characters` : ''}`, body);
}

/** A document as the model reads it: page markers for PDFs, Markdown-style headings, tables as pipe rows. */
function documentText(doc: ExtractedDocument): string {
  const parts: string[] = [];
  let page: number | null = null;
  for (const block of doc.blocks) {
    if (block.page !== null && block.page !== page) {
      page = block.page;
      parts.push(`— page ${page} —`);
    }
    parts.push(block.kind === 'heading' ? `${'#'.repeat(Math.min(block.headings.length, 6))} ${block.text}` : block.text);
  }
  return parts.join('\n\n');
}

async function documentPart(a: Attachment & { data: string }): Promise<string> {
  try {
    const doc = await extractDocument(
      { name: a.name, mimeType: a.mimeType, bytes: Buffer.from(a.data, 'base64') },
      { maxBytes: DOCUMENT_ATTACHMENT_MAX_BYTES, maxPages: DOCUMENT_ATTACHMENT_MAX_PAGES, maxChars: TEXT_ATTACHMENT_MAX_CHARS },
    );
    const read = doc.pageCount !== null ? Math.min(doc.pageCount, DOCUMENT_ATTACHMENT_MAX_PAGES) : null;
    const pages = read !== null ? [`pages 1–${read} of ${doc.pageCount}`] : [];
    // "pages 1–50 of 120" already says the rest was left out
    const notes = read !== null ? doc.notes.filter((n) => n !== pagesReadNote(read, doc.pageCount!)) : doc.notes;
    return inlined([`file "${a.name}"`, ...pages, ...notes].join(', '), documentText(doc));
  } catch (err) {
    return notRead(a, err instanceof ThreadloomError ? err.userMessage : 'the file could not be read');
  }
}

function otherPart(a: Attachment): string {
  if (isReadableDocument(a) && a.size !== null && a.size > DOCUMENT_ATTACHMENT_MAX_BYTES) return notRead(a, `files over ${DOCUMENT_ATTACHMENT_MAX_BYTES / (1024 * 1024)} MB are not read`);
  return notRead(a, 'only images, text, PDF and Word files are');
}

/**
 * The message as the model reads it: text files inlined as fenced blocks, PDF and Word files read
 * the same way (pages, headings, limits told), a one-line note for anything else. Images travel
 * separately (context builder).
 */
export async function withAttachmentText(text: string, attachments: Attachment[]): Promise<string> {
  const parts = await Promise.all(
    attachments
      .filter((a) => !isImage(a))
      .map(async (a) => {
        if (a.data === null) return otherPart(a);
        if (isReadableDocument(a)) return documentPart({ ...a, data: a.data });
        return isReadableText(a) ? textPart({ ...a, data: a.data }) : otherPart(a);
      }),
  );
  return [text, ...parts].filter((p) => p !== '').join('\n\n');
}

/**
 * What is stored of a message's attachments: images keep their bytes (the model is shown them on
 * every turn); a text or document file is already in the message's text, so a 20 MB PDF is not
 * kept a second time in the database and its backups.
 */
export function attachmentsToStore(attachments: Attachment[]): Attachment[] {
  return attachments.map((a) => (isImage(a) ? a : { ...a, data: null }));
}
