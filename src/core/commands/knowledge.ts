import { ThreadloomError } from '../errors.js';
import { formatCount } from '../format/figures.js';
import { authorKey } from '../identity.js';
import type { KnowledgeDocument } from '../knowledge/service.js';
import { UsageError, type CommandContext, type CommandSpec } from './types.js';

const LISTED = 15;

function describe(doc: KnowledgeDocument): string {
  const pages = doc.pageCount !== null ? `, ${doc.pageCount} pages` : '';
  const state = doc.status === 'failed' ? ` — failed: ${doc.error ?? 'unknown reason'}` : doc.status === 'indexed' ? '' : ` — ${doc.status}`;
  return `#${doc.id} ${doc.title}${pages}, ${formatCount(doc.chunkCount)} chunks${state}`;
}

async function experienceHere(ctx: CommandContext): Promise<{ id: number; name: string; chatAdd: 'admins' | 'everyone' }> {
  const conversation = await ctx.conversation();
  const experience = await ctx.deps.experiences.getById(conversation.experience_id);
  if (!experience) throw new ThreadloomError('not_found', 'no Experience for this conversation');
  return { id: experience.id, name: experience.name, chatAdd: experience.knowledge.chatAdd };
}

async function add(ctx: CommandContext): Promise<void> {
  const knowledge = ctx.deps.knowledge!;
  const experience = await experienceHere(ctx);
  if (!ctx.isAdmin && experience.chatAdd !== 'everyone') {
    await ctx.say(`Only admins may add documents to ${experience.name} here.`, { private: true });
    return;
  }
  const files = ctx.inbound.attachments;
  if (files.length === 0) throw new UsageError('Attach the files to add (PDF, Word, Markdown, HTML, text or CSV) to the `knowledge add` message.');
  const lines: string[] = [];
  for (const file of files) {
    if (file.data === null) {
      lines.push(`✗ ${file.name}: it could not be downloaded here (too big, or the platform did not give it to me).`);
      continue;
    }
    try {
      const doc = await knowledge.add(experience.id, { name: file.name, mimeType: file.mimeType, bytes: Buffer.from(file.data, 'base64') }, authorKey(ctx.inbound), 'chat');
      const notes = doc.notes.length ? ` (${doc.notes.join('; ')})` : '';
      lines.push(`✓ ${describe(doc)}${notes}`);
    } catch (err) {
      lines.push(`✗ ${file.name}: ${err instanceof ThreadloomError ? err.userMessage : 'it could not be read.'}`);
    }
  }
  await ctx.say([`Knowledge of ${experience.name}:`, ...lines].join('\n'));
}

async function list(ctx: CommandContext): Promise<void> {
  const experience = await experienceHere(ctx);
  const docs = await ctx.deps.knowledge!.list(experience.id);
  if (docs.length === 0) {
    await ctx.say(`${experience.name} has no documents yet. An admin can attach files to \`knowledge add\`, or add them on the admin web's Knowledge page.`);
    return;
  }
  const more = docs.length > LISTED ? [`… and ${docs.length - LISTED} more (see the admin web's Knowledge page)`] : [];
  await ctx.say([`${experience.name} knows ${docs.length} document${docs.length === 1 ? '' : 's'}:`, ...docs.slice(0, LISTED).map(describe), ...more].join('\n'));
}

async function remove(ctx: CommandContext, idText: string | undefined): Promise<void> {
  if (!ctx.isAdmin) {
    await ctx.say('Only admins may remove documents.', { private: true });
    return;
  }
  const id = Number(idText?.replace(/^#/, ''));
  if (!Number.isInteger(id) || id <= 0) throw new UsageError('Which document? `knowledge remove <number>` (`knowledge` lists them).');
  const experience = await experienceHere(ctx);
  const doc = await ctx.deps.knowledge!.get(id);
  if (!doc || doc.experienceId !== experience.id) {
    await ctx.say(`${experience.name} has no document #${id}.`, { private: true });
    return;
  }
  await ctx.deps.knowledge!.remove(id);
  await ctx.say(`Removed #${id} ${doc.title} from ${experience.name}; answers no longer cite it.`);
}

export const KNOWLEDGE: CommandSpec = {
  name: 'knowledge',
  usage: 'knowledge [add | remove <number>]',
  summary: 'the documents answers here cite: list them, add the attached files, or remove one',
  async run(ctx) {
    if (!ctx.deps.knowledge) {
      await ctx.say('Knowledge is not available here.');
      return;
    }
    const [sub, arg] = ctx.args;
    switch (sub?.toLowerCase()) {
      case undefined:
      case 'list':
        return list(ctx);
      case 'add':
        return add(ctx);
      case 'remove':
        return remove(ctx, arg);
      default:
        throw new UsageError('Use `knowledge`, `knowledge add` (with files attached) or `knowledge remove <number>`.');
    }
  },
};
