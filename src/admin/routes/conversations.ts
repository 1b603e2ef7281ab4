import type { FastifyInstance, FastifyReply } from 'fastify';
import { exportJson, exportMarkdown } from '../../core/conversations/export.js';
import { conversationPlatforms, listConversations, messagesOfConversation } from '../../core/conversations/listing.js';
import { ThreadloomError } from '../../core/errors.js';
import { audit } from '../audit.js';
import type { AdminContext } from '../context.js';
import { buildTree } from '../conversation-tree.js';

/**
 * Conversations: a filtered list (platform, Experience, user, date), one conversation as its
 * message tree with per-answer figures, Markdown/JSON export of the active branch, delete.
 */

const PAGE_SIZE = 50;
/** a conversation page shows at most this many messages; the export has the active branch whole */
const MAX_TREE_MESSAGES = 2000;

export interface ConversationFilter {
  platform: string;
  experience: string;
  user: string;
  from: string;
  to: string;
  page: number;
  /** words or a question: the list becomes search results (keywords and meaning) */
  q: string;
}

/** the longest search accepted; the chat command takes the same */
const MAX_QUERY = 500;
const SEARCH_RESULTS = 20;

function readFilter(query: Record<string, unknown>): ConversationFilter {
  const text = (key: string): string => (typeof query[key] === 'string' ? (query[key] as string).trim() : '');
  const date = (key: string): string => (/^\d{4}-\d{2}-\d{2}$/.test(text(key)) ? text(key) : '');
  const page = Number(text('page'));
  return { platform: text('platform'), experience: text('experience'), user: text('user'), from: date('from'), to: date('to'), page: Number.isInteger(page) && page > 0 ? page : 1, q: text('q') };
}


type IdParams = { Params: { id: string } };

export function registerConversationRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const db = ctx.runtime.database.db;
  const { conversations, experiences } = ctx.runtime.deps;

  async function search(filter: ConversationFilter) {
    return listConversations(db, filter, { number: filter.page, size: PAGE_SIZE });
  }

  /** The same hybrid search as the chat command, over everything (admins see all), narrowed by platform and Experience. */
  async function searchMessages(filter: ConversationFilter) {
    if (filter.q.length > MAX_QUERY) return { hits: [], note: null, refused: `A search is at most ${MAX_QUERY} characters; this one has ${filter.q.length}.` };
    const service = ctx.runtime.deps.search;
    if (!service) return { hits: [], note: null, refused: 'Search is not available in this process.' };
    const experience = filter.experience ? await experiences.get(filter.experience) : null;
    const result = await service.search({
      query: filter.q,
      filter: { ...(filter.platform ? { platform: filter.platform } : {}), ...(filter.experience ? { experienceIds: experience ? [experience.id] : [] } : {}) },
      limit: SEARCH_RESULTS,
      onePerConversation: false,
    });
    const note = result.semantic === 'on' ? null : result.detail ? `Search by meaning: ${result.detail}.` : null;
    return { hits: result.hits, note, refused: null };
  }

  async function listData(query: Record<string, unknown>) {
    const filter = readFilter(query);
    const platforms = await conversationPlatforms(db);
    const experienceOptions = (await experiences.list({ includeArchived: true })).map((e) => ({ slug: e.slug, name: e.name }));
    const page = { title: 'Conversations', filter, platforms, experienceOptions, searchAvailable: ctx.runtime.deps.search !== undefined };
    if (filter.q) return { ...page, conversations: [], more: false, query: '', search: await searchMessages(filter) };
    const { rows, more } = await search(filter);
    const params = new URLSearchParams(Object.entries(filter).filter(([k, v]) => k !== 'page' && v !== '') as Array<[string, string]>);
    return { ...page, conversations: rows, more, query: params.toString(), search: null };
  }

  app.get('/conversations', async (request, reply) => reply.page('conversations', await listData(request.query as Record<string, unknown>)));
  // the filter form's htmx target: only the results table
  app.get('/conversations/results', async (request, reply) => reply.partial('conversation-results', await listData(request.query as Record<string, unknown>)));

  async function load(id: string) {
    const conversation = await conversations.get(Number(id) || 0);
    const experience = await experiences.getById(conversation.experience_id);
    return { conversation, experienceSlug: experience?.slug ?? String(conversation.experience_id), experience };
  }

  app.get<IdParams>('/conversations/:id', async (request, reply) => {
    const { conversation, experience } = await load(request.params.id);
    const messages = await messagesOfConversation(db, conversation.id, MAX_TREE_MESSAGES + 1);
    const path = await conversations.path(conversation);
    const tree = buildTree(messages.slice(0, MAX_TREE_MESSAGES), new Set(path.map((m) => m.id)), conversation.active_leaf_id);
    const answers = messages.filter((m) => m.role === 'assistant');
    const totals = {
      tokensIn: answers.reduce((s, m) => s + (m.tokens_in ?? 0), 0),
      tokensOut: answers.reduce((s, m) => s + (m.tokens_out ?? 0), 0),
      costUsd: answers.reduce((s, m) => s + (m.cost_usd ?? 0), 0),
    };
    return reply.page('conversation', {
      title: conversation.title ?? `Conversation ${conversation.id}`,
      conversation,
      experience,
      tree,
      totals,
      messageCount: messages.length,
      truncated: messages.length > MAX_TREE_MESSAGES,
      maxMessages: MAX_TREE_MESSAGES,
    });
  });

  async function exportAs(id: string, format: 'md' | 'json', reply: FastifyReply) {
    const { conversation, experienceSlug } = await load(id);
    const path = await conversations.path(conversation);
    const body = format === 'md' ? exportMarkdown(conversation, experienceSlug, path, ctx.now()) : exportJson(conversation, experienceSlug, path, ctx.now());
    reply.header('content-disposition', `attachment; filename="conversation-${conversation.id}.${format}"`);
    return reply.type(format === 'md' ? 'text/markdown; charset=utf-8' : 'application/json; charset=utf-8').send(body);
  }

  app.get<IdParams>('/conversations/:id/export.md', (request, reply) => exportAs(request.params.id, 'md', reply));
  app.get<IdParams>('/conversations/:id/export.json', (request, reply) => exportAs(request.params.id, 'json', reply));

  app.post<IdParams>('/conversations/:id/delete', async (request, reply) => {
    const { conversation } = await load(request.params.id);
    if ((request.body as Record<string, unknown> | undefined)?.confirm !== 'yes') {
      throw new ThreadloomError('invalid', 'tick the box to confirm the delete', { userMessage: 'Nothing was deleted: tick “Delete this conversation and all its branches” to confirm.' });
    }
    await conversations.delete(conversation.id);
    const where = `${conversation.platform}:${conversation.channel_id}${conversation.thread_id ? `/${conversation.thread_id}` : ''}`;
    await audit(ctx, request, 'conversation.delete', `${conversation.title ?? 'untitled'} (${where})`, `conversation ${conversation.id}`);
    request.session!.flash = `Deleted conversation ${conversation.id}. Its usage stays in the ledger.`;
    return reply.redirect('/conversations', 303);
  });
}
