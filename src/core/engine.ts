import { runCommand } from './commands/run.js';
import type { CommandActions, CommandHost } from './commands/types.js';
import { attachmentsToStore, withAttachmentText } from './context/attachments.js';
import type { ConversationRow } from './conversations/table.js';
import { ThreadloomError, errorMessage } from './errors.js';
import { withFields, type Logger } from './log.js';
import type { Admission, Admittee, ChatEngine, ChatPlace, Greeting, Inbound, Reply } from './inbound.js';
import type { PlatformDirectory } from './search/directory.js';
import type { EngineDeps } from './turns/deps.js';
import { claimEvent, finishEvent, releaseEvent, releaseOrphanedClaims, type Claim } from './turns/gate.js';
import { turnRateLimiter, type TurnRateLimiter } from './turns/rate-limit.js';
import { KeyedQueue } from './turns/queue.js';
import { mapPlatformMessages, nodeForPlatformMessage } from './conversations/platform-messages.js';
import { experienceForChannel, findConversationFor } from './turns/places.js';
import { fallbackTitle } from './turns/title.js';
import { TurnRunner, type TurnUser } from './turns/turn.js';
import { authorKey } from './identity.js';
import { admit, isAdmin, mayAct } from './turns/admission.js';
import * as queries from './turns/platform-queries.js';

const ANSWERS_NOW = new Set(['stop', 'approve', 'deny']);
/** the buttons of a finished answer */
const ON_ANSWERS = new Set(['regen', 'prev', 'next']);
/** how long such a press on a message not known (yet) waits for the answers being written */
const UNKNOWN_MESSAGE_WAIT_MS = 3_000;
/** Stop and the answers to a tool's approval request act at once, not after the turn they concern. */
const isStop = (inbound: Inbound): boolean => ANSWERS_NOW.has(inbound.command?.name ?? '') || ANSWERS_NOW.has(inbound.action?.name ?? '');

/**
 * The platform-neutral heart: an adapter hands every event to `handle` with a way to answer.
 * Nothing a user sends can make it throw: failures become one short message in the chat.
 */
export class Engine implements CommandHost, ChatEngine {
  readonly turns: TurnRunner;
  /** who may read which channel, per platform: the runtime registers an adapter's when it connects */
  readonly directories = new Map<string, PlatformDirectory>();
  private readonly limiter: TurnRateLimiter;
  private readonly queue = new KeyedQueue();
  private closing = false;
  /** this instance's name on its claims, when several share PostgreSQL */
  private readonly claimant: string | null;

  constructor(private readonly deps: EngineDeps) {
    this.claimant = deps.claimant ?? null;
    this.turns = new TurnRunner(deps);
    this.limiter = turnRateLimiter(deps.db, deps.config.limits.userTurnsPerMinute, () => deps.now().getTime());
  }

  /** Handles one platform event; the lines its turn logs carry its request id. */
  async handle(inbound: Inbound, reply: Reply): Promise<void> {
    if (inbound.author.isBot || this.closing) return;
    // admitted and claimed in its place's turn, not before: their queries may finish in any order
    // (a pool of connections on PostgreSQL), and a thread's messages are answered in arrival order
    const accepted = async (): Promise<Claim> => ((await this.admit(inbound)) === 'admitted' ? claimEvent(this.deps.db, inbound, this.claimant) : 'no');
    let claim: Claim = 'no';
    try {
      if (isStop(inbound)) {
        claim = await accepted();
        if (claim !== 'no') await this.dispatch(inbound, reply, claim);
      } else {
        await this.queue.run(this.queueKey(inbound, reply), async () => {
          // closing meanwhile: left unclaimed, for the catch-up after the restart
          if (this.closing) return;
          claim = await accepted();
          if (claim !== 'no') await this.dispatch(inbound, reply, claim);
        });
      }
    } catch (err) {
      await this.fail(err, inbound, reply);
    }
    // handled, or told why not: no instance taking the platform over answers it again
    if (claim !== 'no' && this.claimant !== null) await finishEvent(this.deps.db, inbound).catch(() => undefined);
  }

  /**
   * Before a platform connects (PostgreSQL): its events claimed by instances that died before
   * handling them are given back, so the catch-up on connecting answers them again.
   */
  async releaseOrphanedClaims(platform: string): Promise<void> {
    if (this.claimant === null) return;
    const released = await releaseOrphanedClaims(this.deps.db, platform, this.claimant);
    if (released > 0) this.deps.log.info(`${platform}: ${released} events a stopped instance left unfinished are taken again`);
  }

  /**
   * Shutdown: takes no new events, lets answers being written finish within `graceMs` and cuts
   * the rest. Events still waiting in a place's queue are given back unanswered.
   */
  async drain(graceMs: number): Promise<{ finished: number; cut: number }> {
    this.closing = true;
    return this.turns.drain(graceMs);
  }

  private async dispatch(inbound: Inbound, reply: Reply, claim: Claim): Promise<void> {
    if (this.closing && !isStop(inbound)) return releaseEvent(this.deps.db, inbound);
    switch (inbound.kind) {
      case 'command':
        return runCommand(this, { ...this.deps, log: this.logFor(inbound) }, inbound, reply);
      case 'action':
        return this.action(inbound, reply);
      case 'edit':
        return this.edit(inbound, reply);
      case 'message':
        return claim === 'again' ? this.messageAgain(inbound, reply) : this.message(inbound, reply);
    }
  }

  /**
   * Events of one place are handled in arrival order (stop excepted), so a thread's messages are
   * answered in turn. A mention that opens its own thread waits for nobody.
   */
  private queueKey(inbound: Inbound, reply: Reply): string {
    if (inbound.kind === 'message' && this.threadPerMessage(inbound, reply)) return `${inbound.platform}\u0000message\u0000${inbound.messageId}`;
    return `${inbound.platform}\u0000${inbound.channelId}\u0000${inbound.threadId ?? ''}`;
  }

  isAdmin(inbound: Inbound): boolean {
    return isAdmin(this.deps.config, inbound);
  }

  admit(inbound: Inbound): Promise<Admission> {
    return admit(this.deps.config, inbound, (platform, channelId) => queries.isBound(this.deps, platform, channelId));
  }

  mayAct(who: Admittee): boolean {
    return mayAct(this.deps.config, who);
  }

  registerDirectory(platform: string, directory: PlatformDirectory): void {
    this.directories.set(platform, directory);
  }

  /** who may read which channel on a platform, when its adapter registered one */
  directory(platform: string): PlatformDirectory | undefined {
    return this.directories.get(platform);
  }

  removeDirectory(platform: string): void {
    this.directories.delete(platform);
  }

  activePlaces(platform: string, since: Date, limit: number): Promise<ChatPlace[]> {
    return queries.activePlaces(this.deps, platform, since, limit);
  }

  isConversationThread(platform: string, channelId: string, threadId: string): Promise<boolean> {
    return queries.isConversationThread(this.deps, platform, channelId, threadId);
  }

  greeting(): Promise<Greeting> {
    return queries.greeting(this.deps);
  }

  suggestions(kind: 'model' | 'experience'): Promise<string[]> {
    return queries.suggestions(this.deps, kind);
  }

  useExperience(platform: string, channelId: string, slug: string): Promise<{ name: string; slug: string }> {
    return queries.useExperience(this.deps, platform, channelId, slug);
  }

  actionsFor(inbound: Inbound, reply: Reply): CommandActions {
    return {
      regenerate: (answerId) => this.regenerate(answerId, inbound, reply),
      answer: async (conversation, questionId) => {
        await this.turns.run({ conversation, parentId: questionId, reply, ...this.asker(inbound) });
      },
      stop: (conversationId) => this.turns.stop(conversationId),
      answerApproval: (conversationId, approve) => this.answerApproval(inbound, null, approve, conversationId),
      directory: this.directories.get(inbound.platform),
    };
  }

  /** the log of one event: each line carries its request id */
  private logFor(inbound: Inbound): Logger {
    return withFields(this.deps.log, { request: `${inbound.platform}:${inbound.eventId}` });
  }

  /** who a turn answers, and the log it writes to */
  private asker(inbound: Inbound): { user: TurnUser; log: Logger } {
    return { user: this.user(inbound), log: this.logFor(inbound) };
  }

  user(inbound: Inbound): TurnUser {
    return { platform: inbound.platform, id: inbound.author.id, name: inbound.author.name, admin: this.isAdmin(inbound), isDirect: inbound.isDirect };
  }

  /**
   * Approve or Deny on a tool's approval request (a button, a reaction, or the typed command when
   * `messageId` is null: the newest open request in this conversation). Returns what to tell the
   * person when their answer was not taken.
   */
  answerApproval(inbound: Inbound, messageId: string | null, approve: boolean, conversationId?: number): string | null {
    const desk = this.deps.approvals;
    if (!desk) return 'There is no tool call waiting for an answer here.';
    return desk.answer({
      platform: inbound.platform, messageId, ...(conversationId === undefined ? {} : { conversationId }), approve,
      who: { key: authorKey(inbound), name: inbound.author.name, admin: this.isAdmin(inbound) },
    });
  }

  /** In a channel of a platform with threads, each mention starts its own thread. */
  private threadPerMessage(inbound: Inbound, reply: Reply): boolean {
    return !inbound.isDirect && inbound.threadId === null && Boolean(reply.startThread) && reply.capabilities.threads;
  }

  /** The running conversation of this place (commands use it), created there if there is none. */
  async conversationFor(inbound: Inbound): Promise<ConversationRow> {
    return (await findConversationFor(this.deps, inbound)) ?? this.createConversation(inbound, null);
  }

  private async createConversation(inbound: Inbound, reply: Reply | null, title = ''): Promise<ConversationRow> {
    const newThread = reply !== null && this.threadPerMessage(inbound, reply);
    const threadId = newThread ? await reply.startThread!(title) : inbound.threadId;
    const experience = await experienceForChannel(this.deps, inbound.platform, inbound.channelId);
    // `model` or `persona` given in the channel itself (outside any thread) is for the
    // conversations started there next: each new thread takes them from the channel's own
    const channel = newThread ? await this.deps.conversations.findActive({ platform: inbound.platform, channelId: inbound.channelId, threadId: null }) : undefined;
    return this.deps.conversations.create({ platform: inbound.platform, channelId: inbound.channelId, threadId }, experience.id, authorKey(inbound), {
      modelOverride: channel?.model_override ?? null,
      personaOverride: channel?.persona_override ?? null,
    });
  }

  private async message(inbound: Inbound, reply: Reply): Promise<void> {
    const text = inbound.text.trim();
    if (!text && inbound.attachments.length === 0) return;
    // a mention in a threaded channel starts a new thread unless it replies into a conversation
    const existing = await findConversationFor(this.deps, inbound, { byPlace: !this.threadPerMessage(inbound, reply) });
    const addressed = inbound.mentionsBot || inbound.isDirect || (existing !== null && (inbound.threadId !== null || inbound.replyTo !== null));
    if (!addressed) return;
    await this.limiter.take(authorKey(inbound));
    const conversation = existing ?? (await this.createConversation(inbound, reply, fallbackTitle(text)));
    const userMessage = await this.deps.conversations.append(conversation.id, {
      role: 'user',
      content: await withAttachmentText(text, inbound.attachments),
      authorId: inbound.author.id,
      authorName: inbound.author.name,
      attachments: attachmentsToStore(inbound.attachments),
    });
    await mapPlatformMessages(this.deps.db, inbound.platform, [inbound.messageId], userMessage.id, conversation.id);
    await this.turns.run({ conversation, parentId: userMessage.id, reply, ...this.asker(inbound) });
  }

  /**
   * A message claimed again after the instance handling it died: stored already, it is answered
   * from where it is (a cut-off answer stays beside the new one); with a finished answer, nothing
   * is done; never stored, it is a message like any other.
   */
  private async messageAgain(inbound: Inbound, reply: Reply): Promise<void> {
    const question = await nodeForPlatformMessage(this.deps.db, inbound.platform, inbound.messageId);
    if (!question || question.role !== 'user') return this.message(inbound, reply);
    if (await this.deps.conversations.hasFinishedAnswer(question.id)) return;
    const conversation = await this.deps.conversations.get(question.conversation_id);
    this.logFor(inbound).info('answering again a question whose answer was cut off when the instance writing it stopped', { message: question.id });
    await this.turns.run({ conversation, parentId: question.id, reply, ...this.asker(inbound) });
  }

  /** An edited user message grows a branch and gets a fresh answer. */
  private async edit(inbound: Inbound, reply: Reply): Promise<void> {
    const node = await nodeForPlatformMessage(this.deps.db, inbound.platform, inbound.messageId);
    // platforms also report edits that change no text (a link preview arriving): those are no branch
    const content = await withAttachmentText(inbound.text.trim(), inbound.attachments);
    if (!node || node.role !== 'user' || node.content === content) return;
    await this.limiter.take(authorKey(inbound));
    const edited = await this.deps.conversations.editUserMessage(node.id, content);
    await mapPlatformMessages(this.deps.db, inbound.platform, [inbound.messageId], edited.id, edited.conversation_id);
    const conversation = await this.deps.conversations.get(edited.conversation_id);
    const { siblings } = await this.deps.conversations.siblings(edited.id);
    const notice = { kind: 'edited', branch: siblings.length, of: siblings.length, buttons: reply.capabilities.buttons } as const;
    await this.turns.run({ conversation, parentId: edited.id, reply, ...this.asker(inbound), notice });
  }

  private async action(inbound: Inbound, reply: Reply): Promise<void> {
    const action = inbound.action;
    if (!action) return;
    let node = await nodeForPlatformMessage(this.deps.db, inbound.platform, action.targetMessageId);
    // a press the moment an answer shows (a reaction comes outside the thread's queue) can come
    // before the answer is known by its post, which is recorded just after its last write
    for (let waited = 0; !node && ON_ANSWERS.has(action.name) && this.turns.busy && waited < UNKNOWN_MESSAGE_WAIT_MS; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      node = await nodeForPlatformMessage(this.deps.db, inbound.platform, action.targetMessageId);
    }
    if (action.name === 'stop') {
      // an answer still streaming is not mapped to its message yet: stop what runs in this place
      const conversationId = node?.conversation_id ?? (await findConversationFor(this.deps, inbound))?.id;
      if (conversationId !== undefined) this.turns.stop(conversationId);
      return;
    }
    if (action.name === 'approve' || action.name === 'deny') {
      const refused = this.answerApproval(inbound, action.targetMessageId, action.name === 'approve');
      if (refused) await reply.post(refused, { private: true });
      return;
    }
    if (!node) throw new ThreadloomError('not_found', 'action on an unknown message', { userMessage: 'I no longer know that message.' });
    if (action.name === 'regen') return this.regenerate(node.id, inbound, reply);
    await this.showSibling(node.id, action.name === 'prev' ? -1 : 1, reply, action.targetMessageId, inbound.platform);
  }

  /** A sibling answer under the same user message. */
  async regenerate(answerId: number, inbound: Inbound, reply: Reply): Promise<void> {
    const answer = await this.deps.conversations.message(answerId);
    if (answer.role !== 'assistant' || answer.parent_id === null) {
      throw new ThreadloomError('invalid', 'regenerate needs an answer', { userMessage: 'There is no answer to regenerate yet.' });
    }
    await this.limiter.take(authorKey(inbound));
    const conversation = await this.deps.conversations.get(answer.conversation_id);
    // an answer that came after tool calls is regenerated whole, from its question
    const head = await this.deps.conversations.turnHead(answer.id);
    await this.turns.run({ conversation, parentId: head.parent_id ?? answer.parent_id, reply, ...this.asker(inbound) });
  }

  /**
   * ◀ ▶ under an answer: moves to the previous/next branch at the answer (or, for an edited
   * question, at the question) and shows that branch's answer in the same message.
   */
  async showSibling(answerId: number, direction: -1 | 1, reply: Reply, platformMessageId: string | null, platform: string): Promise<string> {
    const { conversations } = this.deps;
    const { siblings, index } = await conversations.branchPointOf(answerId);
    const target = siblings[index + direction];
    if (!target) return direction < 0 ? 'This is the first branch.' : 'This is the last branch.';
    await conversations.switchTo(target.id);
    const shown = await conversations.answerOf(target);
    const position = `${index + direction + 1}/${siblings.length}`;
    if (platformMessageId && shown) {
      const label = `branch ${position}`;
      const max = reply.capabilities.maxMessageLength - label.length - 8;
      const text = shown.content.length > max ? `${shown.content.slice(0, max)}…` : shown.content;
      const buttons = reply.capabilities.buttons
        ? [{ action: 'prev' as const, label: '◀' }, { action: 'next' as const, label: `▶ ${position}` }, { action: 'regen' as const, label: 'Regenerate' }]
        : undefined;
      await reply.edit(platformMessageId, `${text || '(empty answer)'}\n\n_${label}_`, { buttons });
      await mapPlatformMessages(this.deps.db, platform, [platformMessageId], shown.id, shown.conversation_id);
    }
    return `Switched to branch ${position}.`;
  }

  private async fail(err: unknown, inbound: Inbound, reply: Reply): Promise<void> {
    const known = err instanceof ThreadloomError;
    if (!known || err.code === 'database') {
      this.logFor(inbound).error('event failed', { eventId: inbound.eventId, platform: inbound.platform, error: errorMessage(err) });
    }
    const text = known ? err.userMessage : 'Something went wrong on my side; nothing you sent was lost. Please try again.';
    await reply.post(text, { private: true, refusal: known && err.code === 'rate_limited' }).catch((postErr) => {
      this.logFor(inbound).warn('could not tell the user about a failure', { error: errorMessage(postErr) });
    });
  }
}
