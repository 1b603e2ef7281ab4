import type { Db } from '../db/open.js';
import type { CitedSource, ConversationRow, MessageRole, MessageRow, MessageStatus, StoredToolCall, ToolRunMeta } from './table.js';
import { ThreadloomError } from '../errors.js';
import type { Attachment } from '../inbound.js';
import { estimateMessageTokens } from '../context/tokens.js';
import {
  childrenOf,
  findActiveConversation,
  findConversationById,
  findMessage,
  insertConversation,
  insertMessage,
  isOnPath,
  newestLeafUnder,
  pathToLeaf,
  subtreeIds,
  deleteMessages,
  updateConversation,
  type ConversationPlace,
} from './repository.js';

/** How many nodes a turn's chain of tool calls and results may span, as a guard on walks. */
const MAX_TURN_NODES = 200;

export interface NewMessage {
  role: MessageRole;
  content: string;
  authorId?: string | null;
  authorName?: string | null;
  model?: string | null;
  status?: MessageStatus;
  attachments?: Attachment[];
  /** a tool's result: the call it answers and how it ran */
  tool?: { callId: string; name: string; meta: ToolRunMeta };
}

export interface Siblings {
  siblings: MessageRow[];
  /** 0-based position of the node among its siblings */
  index: number;
}

export interface AnswerResult {
  content: string;
  status: MessageStatus;
  model: string | null;
  error?: string | null;
  tokensIn?: number | null;
  tokensOut?: number | null;
  costUsd?: number | null;
  latencyMs?: number | null;
  ttftMs?: number | null;
}

function notFound(what: string): ThreadloomError {
  return new ThreadloomError('not_found', `${what} not found`, { userMessage: `That ${what} no longer exists.` });
}

/**
 * The message tree of each conversation. Every operation that moves the active leaf runs in one
 * transaction, so the leaf always points at a message of its own conversation.
 */
export class ConversationService {
  constructor(
    private readonly db: Db,
    /** this instance's name, kept on answers while they stream (several instances on PostgreSQL) */
    private readonly writer: string | null = null,
  ) {}

  async get(id: number): Promise<ConversationRow> {
    const row = await findConversationById(this.db, id);
    if (!row) throw notFound('conversation');
    return row;
  }

  async findActive(place: ConversationPlace): Promise<ConversationRow | undefined> {
    return findActiveConversation(this.db, place);
  }

  async create(
    place: ConversationPlace,
    experienceId: number,
    createdBy: string | null,
    settings: { modelOverride?: string | null; personaOverride?: string | null } = {},
  ): Promise<ConversationRow> {
    return insertConversation(this.db, {
      platform: place.platform,
      channel_id: place.channelId,
      thread_id: place.threadId ?? '',
      experience_id: experienceId,
      title: null,
      active_leaf_id: null,
      model_override: settings.modelOverride ?? null,
      persona_override: settings.personaOverride ?? null,
      created_by: createdBy,
      archived_at: null,
    });
  }

  /** `new`: the running conversation of this place is archived; the next message starts another. */
  async archive(id: number): Promise<void> {
    await updateConversation(this.db, id, { archived_at: new Date().toISOString() });
  }

  async update(id: number, update: Parameters<typeof updateConversation>[2]): Promise<void> {
    await updateConversation(this.db, id, update);
  }

  async message(id: number): Promise<MessageRow> {
    const row = await findMessage(this.db, id);
    if (!row) throw notFound('message');
    return row;
  }

  /** Appends under `parentId` (default: the active leaf) and makes the new message the leaf. */
  async append(conversationId: number, message: NewMessage, parentId?: number | null): Promise<MessageRow> {
    return (await this.appendChain(conversationId, [message], parentId))[0]!;
  }

  /**
   * Appends messages one under the other, the first under `parentId` (default: the active leaf),
   * in one transaction, and makes the last the leaf: a round of tool results is one write.
   */
  async appendChain(conversationId: number, messages: NewMessage[], parentId?: number | null): Promise<MessageRow[]> {
    return this.db.transaction().execute(async (trx) => {
      const conversation = await findConversationById(trx, conversationId);
      if (!conversation) throw notFound('conversation');
      let parent = parentId === undefined ? conversation.active_leaf_id : parentId;
      // the active leaf is known to belong here; any other parent is checked
      if (parent !== null && parent !== conversation.active_leaf_id) {
        const parentRow = await findMessage(trx, parent);
        if (!parentRow || parentRow.conversation_id !== conversationId) throw notFound('message');
      }
      const rows: MessageRow[] = [];
      for (const message of messages) {
        const row = await insertMessage(trx, {
          conversation_id: conversationId,
          parent_id: parent,
          role: message.role,
          author_id: message.authorId ?? null,
          author_name: message.authorName ?? null,
          content: message.content,
          model: message.model ?? null,
          status: message.status ?? 'complete',
          writer: message.status === 'streaming' ? this.writer : null,
          error: null,
          token_count: estimateMessageTokens(message.content, message.attachments?.length ?? 0),
          tokens_in: null,
          tokens_out: null,
          cost_usd: null,
          latency_ms: null,
          ttft_ms: null,
          ...(message.tool ? { tool_call_id: message.tool.callId, tool_name: message.tool.name, tool_meta: JSON.stringify(message.tool.meta) } : {}),
        });
        for (const a of message.attachments ?? []) {
          await trx
            .insertInto('attachments')
            .values({ message_id: row.id, name: a.name, mime_type: a.mimeType, data: a.data, url: a.url, size: a.size })
            .execute();
        }
        rows.push(row);
        parent = row.id;
      }
      if (rows.length) await updateConversation(trx, conversationId, { active_leaf_id: rows.at(-1)!.id });
      return rows;
    });
  }

  /** Edit of an earlier user message: a sibling with the new text becomes the leaf. */
  async editUserMessage(messageId: number, content: string): Promise<MessageRow> {
    const original = await this.message(messageId);
    if (original.role !== 'user') {
      throw new ThreadloomError('invalid', 'only user messages can be edited', { userMessage: 'Only your own messages can be edited into a new branch.' });
    }
    const attachments = await this.attachments(original.id);
    return this.append(
      original.conversation_id,
      { role: 'user', content, authorId: original.author_id, authorName: original.author_name, attachments },
      original.parent_id,
    );
  }

  async attachments(messageId: number): Promise<Attachment[]> {
    const rows = await this.db.selectFrom('attachments').selectAll().where('message_id', '=', messageId).orderBy('id').execute();
    return rows.map((r) => ({ name: r.name, mimeType: r.mime_type, data: r.data, url: r.url, size: r.size }));
  }

  /** Writes the final state of a streamed answer. */
  /** The text streamed so far, while the answer is still being written. */
  async saveStreamingText(messageId: number, content: string): Promise<void> {
    await this.db.updateTable('messages').set({ content }).where('id', '=', messageId).where('status', '=', 'streaming').execute();
  }

  async finishAnswer(messageId: number, result: AnswerResult): Promise<void> {
    const exact = result.tokensOut != null && result.status === 'complete';
    await this.db
      .updateTable('messages')
      .set({
        content: result.content,
        status: result.status,
        model: result.model,
        error: result.error ?? null,
        token_count: exact ? result.tokensOut! : estimateMessageTokens(result.content, 0),
        token_count_exact: exact ? 1 : 0,
        tokens_in: result.tokensIn ?? null,
        tokens_out: result.tokensOut ?? null,
        cost_usd: result.costUsd ?? null,
        latency_ms: result.latencyMs ?? null,
        ttft_ms: result.ttftMs ?? null,
      })
      .where('id', '=', messageId)
      .execute();
  }

  async siblings(nodeId: number): Promise<Siblings> {
    const node = await this.message(nodeId);
    const siblings = await childrenOf(this.db, node.conversation_id, node.parent_id);
    return { siblings, index: siblings.findIndex((s) => s.id === nodeId) };
  }

  /**
   * Where an answer's ◀ ▶ act: among the answer's siblings (regenerations), or, when it has none,
   * among its question's siblings (edits of that question).
   */
  async branchPointOf(answerId: number): Promise<Siblings & { node: MessageRow }> {
    const own = await this.siblings((await this.turnHead(answerId)).id);
    const node = own.siblings[own.index]!;
    if (own.siblings.length > 1 || node.parent_id === null) return { ...own, node };
    const question = await this.siblings(node.parent_id);
    return question.siblings.length > 1 ? { ...question, node: question.siblings[question.index]! } : { ...own, node };
  }

  /**
   * The answer shown for a branch: the node itself if it is an answer, else its newest answer;
   * an answer that called tools is shown by the answer its turn ended with.
   */
  async answerOf(node: MessageRow): Promise<MessageRow | null> {
    let answer: MessageRow | undefined = node.role === 'assistant'
      ? node
      : (await childrenOf(this.db, node.conversation_id, node.id)).filter((m) => m.role === 'assistant').at(-1);
    // down the turn's own chain: calls → results → the next answer, never past it to the next question
    for (let hops = 0; answer?.tool_calls && hops < MAX_TURN_NODES; hops++) {
      let next: MessageRow | undefined = answer;
      do next = (await childrenOf(this.db, next.conversation_id, next.id)).at(-1);
      while (next?.role === 'tool');
      if (next?.role !== 'assistant') break;
      answer = next;
    }
    return answer ?? null;
  }

  /** Whether a question got an answer written to its end (a cut-off one does not count). */
  async hasFinishedAnswer(questionId: number): Promise<boolean> {
    const question = await this.message(questionId);
    for (const child of await childrenOf(this.db, question.conversation_id, question.id)) {
      if (child.role === 'assistant' && (await this.answerOf(child))?.status === 'complete') return true;
    }
    return false;
  }

  /**
   * The first answer of the turn `answerId` belongs to: a turn that called tools is a chain
   * (answer with calls → results → answer …) under one question, and regenerating or switching
   * branches acts on the whole chain, not its last link.
   */
  async turnHead(answerId: number): Promise<MessageRow> {
    let node = await this.message(answerId);
    for (let hops = 0; node.parent_id !== null && hops < MAX_TURN_NODES; hops++) {
      const parent = await this.message(node.parent_id);
      if (parent.role === 'user') break;
      if (parent.role === 'assistant' && !parent.tool_calls) break;
      node = parent;
    }
    return node;
  }

  /** The documents an answer cites, for links from its [n] to the document at that page. */
  async recordSources(answerId: number, sources: CitedSource[]): Promise<void> {
    await this.db.updateTable('messages').set({ sources: JSON.stringify(sources) }).where('id', '=', answerId).execute();
  }

  /** The calls an answer asked for; its results go under it as 'tool' nodes. */
  async recordToolCalls(answerId: number, calls: StoredToolCall[]): Promise<void> {
    await this.db.updateTable('messages').set({ tool_calls: JSON.stringify(calls) }).where('id', '=', answerId).execute();
  }

  /** A round's tool results, in the order called, under the answer that called them: one write. */
  async appendToolResults(conversationId: number, answerId: number, results: Array<{ callId: string; toolName: string; content: string; meta: ToolRunMeta }>): Promise<MessageRow[]> {
    return this.appendChain(
      conversationId,
      results.map((r) => ({ role: 'tool', content: r.content, status: 'complete', tool: { callId: r.callId, name: r.toolName, meta: r.meta } })),
      answerId,
    );
  }

  /** Moves to `targetId` (a sibling on some branch): the leaf becomes the newest leaf under it. */
  async switchTo(targetId: number): Promise<MessageRow> {
    return this.db.transaction().execute(async (trx) => {
      const target = await findMessage(trx, targetId);
      if (!target) throw notFound('message');
      const leaf = await newestLeafUnder(trx, targetId);
      await updateConversation(trx, target.conversation_id, { active_leaf_id: leaf });
      return (await findMessage(trx, leaf))!;
    });
  }

  /** Steps to the previous/next sibling of `nodeId`. Returns the new leaf, or null at the end. */
  async step(nodeId: number, direction: -1 | 1): Promise<MessageRow | null> {
    const { siblings, index } = await this.siblings(nodeId);
    const target = siblings[index + direction];
    return target ? this.switchTo(target.id) : null;
  }

  /** The deepest message on the active path that has siblings: where `branch` commands act. */
  async branchPoint(conversation: ConversationRow): Promise<MessageRow | null> {
    if (conversation.active_leaf_id === null) return null;
    const path = await pathToLeaf(this.db, conversation.active_leaf_id);
    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i]!;
      const count = await this.db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('conversation_id', '=', node.conversation_id)
        .$call((qb) => (node.parent_id === null ? qb.where('parent_id', 'is', null) : qb.where('parent_id', '=', node.parent_id)))
        .executeTakeFirstOrThrow();
      if (Number(count.n) > 1) return node;
    }
    return null;
  }

  /** The active path, root first. */
  async path(conversation: ConversationRow): Promise<MessageRow[]> {
    return conversation.active_leaf_id === null ? [] : pathToLeaf(this.db, conversation.active_leaf_id);
  }

  /** Copies the path up to `nodeId` into a new conversation at `place`. */
  async fork(nodeId: number, place: ConversationPlace, createdBy: string | null): Promise<ConversationRow> {
    return this.db.transaction().execute(async (trx) => {
      const node = await findMessage(trx, nodeId);
      if (!node) throw notFound('message');
      const source = (await findConversationById(trx, node.conversation_id))!;
      const forked = await insertConversation(trx, {
        platform: place.platform,
        channel_id: place.channelId,
        thread_id: place.threadId ?? '',
        experience_id: source.experience_id,
        title: source.title ? `${source.title} (fork)` : null,
        active_leaf_id: null,
        model_override: source.model_override,
        persona_override: source.persona_override,
        created_by: createdBy,
        archived_at: null,
      });
      let parent: number | null = null;
      for (const m of await pathToLeaf(trx, nodeId)) {
        const { id, conversation_id: _c, parent_id: _p, created_at: _t, ...copy } = m;
        const row = await insertMessage(trx, { ...copy, conversation_id: forked.id, parent_id: parent });
        await trx
          .insertInto('attachments')
          .columns(['message_id', 'name', 'mime_type', 'data', 'url', 'size'])
          .expression((eb) =>
            eb.selectFrom('attachments').select([eb.val(row.id).as('message_id'), 'name', 'mime_type', 'data', 'url', 'size']).where('message_id', '=', id),
          )
          .execute();
        parent = row.id;
      }
      await updateConversation(trx, forked.id, { active_leaf_id: parent });
      return (await findConversationById(trx, forked.id))!;
    });
  }

  /**
   * Deletes `nodeId` and everything under it. If the active leaf was inside, the leaf moves to the
   * newest leaf under the deleted node's parent (or to null when the tree is empty).
   */
  async deleteBranch(nodeId: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const node = await findMessage(trx, nodeId);
      if (!node) throw notFound('message');
      const conversation = (await findConversationById(trx, node.conversation_id))!;
      const leafInside = conversation.active_leaf_id !== null && (await isOnPath(trx, nodeId, conversation.active_leaf_id));
      await deleteMessages(trx, { ids: await subtreeIds(trx, nodeId) });
      if (!leafInside) return;
      let leaf: number | null = null;
      if (node.parent_id !== null) leaf = await newestLeafUnder(trx, node.parent_id);
      else {
        const roots = await childrenOf(trx, node.conversation_id, null);
        const last = roots[roots.length - 1];
        leaf = last ? await newestLeafUnder(trx, last.id) : null;
      }
      await updateConversation(trx, node.conversation_id, { active_leaf_id: leaf });
    });
  }

  /** Deletes a conversation and its messages; its usage rows stay (the ledger is append-only). */
  async delete(conversationId: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await updateConversation(trx, conversationId, { active_leaf_id: null });
      await deleteMessages(trx, { conversationId });
      await trx.deleteFrom('conversations').where('id', '=', conversationId).execute();
    });
  }
}
