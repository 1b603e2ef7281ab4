import { exportJson, exportMarkdown } from '../conversations/export.js';
import { transcriptOf } from '../turns/summarize.js';
import { utilityCompletion } from '../turns/utility.js';
import { chooseModel } from '../providers/model-choice.js';
import { UsageError, type CommandContext, type CommandSpec } from './types.js';
import { authorKey } from '../identity.js';

async function requireConversation(ctx: CommandContext) {
  const conversation = await ctx.existingConversation();
  if (!conversation || conversation.active_leaf_id === null) {
    await ctx.say('There is no conversation here yet: say something to start one.', { private: true });
    return null;
  }
  return conversation;
}

export const NEW: CommandSpec = {
  name: 'new',
  usage: 'new',
  summary: 'start a fresh conversation here (the old one is kept)',
  async run(ctx) {
    const { conversations } = ctx.deps;
    const conversation = await ctx.existingConversation();
    if (conversation) {
      await conversations.archive(conversation.id);
      // a thread stays the bot's: its next message continues the fresh conversation without a mention
      if (conversation.thread_id) {
        const place = { platform: conversation.platform, channelId: conversation.channel_id, threadId: conversation.thread_id };
        await conversations.create(place, conversation.experience_id, authorKey(ctx.inbound));
      }
    }
    await ctx.say('Fresh start: your next message begins a new conversation.');
  },
};

export const REGEN: CommandSpec = {
  name: 'regen',
  usage: 'regen',
  summary: 'answer the last message again (a new branch)',
  async run(ctx) {
    const conversation = await requireConversation(ctx);
    if (!conversation) return;
    const leaf = await ctx.deps.conversations.message(conversation.active_leaf_id!);
    if (leaf.role === 'assistant') return ctx.actions.regenerate(leaf.id);
    // the last answer failed or never came: answer the user's message
    await ctx.actions.answer(conversation, leaf.id);
  },
};

export const BRANCH: CommandSpec = {
  name: 'branch',
  usage: 'branch [list | next | prev | N]',
  summary: 'see the branches of the latest fork and move between them',
  async run(ctx) {
    const conversation = await requireConversation(ctx);
    if (!conversation) return;
    const { conversations } = ctx.deps;
    const point = await conversations.branchPoint(conversation);
    if (!point) {
      await ctx.say('This conversation has a single branch. Edit a message or use `regen` to make another.');
      return;
    }
    const { siblings, index } = await conversations.siblings(point.id);
    const [sub = 'list'] = ctx.args;
    if (sub === 'list') {
      const lines = siblings.map((s, i) => `${i === index ? '▶' : ' '} ${i + 1}. ${s.content.replace(/\s+/g, ' ').slice(0, 80) || '(empty)'}`);
      await ctx.say([`Branch ${index + 1} of ${siblings.length} (${point.role === 'user' ? 'your message' : 'answers'}):`, ...lines].join('\n'));
      return;
    }
    let target: number;
    if (sub === 'next') target = index + 1;
    else if (sub === 'prev') target = index - 1;
    else if (/^\d+$/.test(sub)) target = Number(sub) - 1;
    else throw new UsageError(`"${sub}" is not a branch.`);
    const chosen = siblings[target];
    if (!chosen) {
      await ctx.say(`There are ${siblings.length} branches here; you are on ${index + 1}.`);
      return;
    }
    const leaf = await conversations.switchTo(chosen.id);
    const preview = leaf.role === 'assistant' ? `\n\n${leaf.content}` : '';
    await ctx.say(`Now on branch ${target + 1} of ${siblings.length}.${preview}`);
  },
};

export const FORK: CommandSpec = {
  name: 'fork',
  usage: 'fork',
  summary: 'copy this conversation so far into a new one',
  async run(ctx) {
    const conversation = await requireConversation(ctx);
    if (!conversation) return;
    const { deps } = ctx;
    const title = `${conversation.title ?? 'Conversation'} (fork)`;
    let threadId: string | null = null;
    if (ctx.reply.startThread && ctx.reply.capabilities.threads && !ctx.inbound.isDirect) threadId = await ctx.reply.startThread(title);
    else await deps.conversations.archive(conversation.id); // no threads: the fork takes this place
    const forked = await deps.conversations.fork(conversation.active_leaf_id!, { platform: conversation.platform, channelId: conversation.channel_id, threadId: threadId ?? (conversation.thread_id || null) }, authorKey(ctx.inbound));
    await ctx.say(threadId ? `Forked into a new thread: "${forked.title ?? title}".` : 'Forked: you are now in the copy; the original is kept.');
  },
};

export const SUMMARY: CommandSpec = {
  name: 'summary',
  usage: 'summary',
  summary: 'summarise this conversation so far',
  async run(ctx) {
    const conversation = await requireConversation(ctx);
    if (!conversation) return;
    const { deps } = ctx;
    const path = await deps.conversations.path(conversation);
    const experience = (await deps.experiences.getById(conversation.experience_id))!;
    const choice = await chooseModel(deps, conversation, experience);
    await ctx.reply.typing().catch(() => undefined);
    const result = await utilityCompletion(deps, {
      purpose: 'summary',
      candidates: choice.candidates,
      maxTokens: 500,
      usage: { platform: ctx.inbound.platform, userId: ctx.inbound.author.id, experienceId: experience.id, conversationId: conversation.id, messageId: null },
      messages: [
        { role: 'system', content: 'Summarise this conversation for someone joining it: the question, what was found or decided, and what is still open. At most 200 words.' },
        { role: 'user', content: transcriptOf(path) },
      ],
    });
    await ctx.say(result ? `Summary (${path.length} messages):\n${result.text}` : 'No model could write a summary right now; try again in a moment.');
  },
};

export const EXPORT: CommandSpec = {
  name: 'export',
  usage: 'export [markdown | json]',
  summary: 'this branch of the conversation as a file',
  async run(ctx) {
    const conversation = await requireConversation(ctx);
    if (!conversation) return;
    const format = ctx.args[0] ?? 'markdown';
    if (!['markdown', 'md', 'json'].includes(format)) throw new UsageError(`Unknown format "${format}".`);
    const { deps } = ctx;
    const path = await deps.conversations.path(conversation);
    const experience = (await deps.experiences.getById(conversation.experience_id))!;
    const json = format === 'json';
    const content = (json ? exportJson : exportMarkdown)(conversation, experience.slug, path, deps.now());
    const name = `conversation-${conversation.id}.${json ? 'json' : 'md'}`;
    await ctx.say(`Export of ${path.length} messages:`, { file: { name, content, mimeType: json ? 'application/json' : 'text/markdown' } });
  },
};

function approvalCommand(name: 'approve' | 'deny'): CommandSpec {
  return {
    name,
    usage: name,
    summary: name === 'approve' ? 'let the tool call waiting here run (the asker or an admin)' : 'refuse the tool call waiting here (the asker or an admin)',
    async run(ctx) {
      const conversation = await ctx.existingConversation();
      const refused = conversation ? ctx.actions.answerApproval(conversation.id, name === 'approve') : 'There is no tool call waiting for an answer here.';
      if (refused) await ctx.say(refused, { private: true });
    },
  };
}

export const APPROVE = approvalCommand('approve');
export const DENY = approvalCommand('deny');

export const STOP: CommandSpec = {
  name: 'stop',
  usage: 'stop',
  summary: 'stop the answer being written (what arrived is kept)',
  async run(ctx) {
    const conversation = await ctx.existingConversation();
    const stopped = conversation ? ctx.actions.stop(conversation.id) : false;
    if (!stopped) await ctx.say('Nothing is being written right now.', { private: true });
  },
};
