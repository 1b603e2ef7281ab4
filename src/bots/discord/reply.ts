import {
  AttachmentBuilder,
  ChannelType,
  type TextChannel,
  MessageFlags,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Message,
  type SendableChannels,
} from 'discord.js';
import type { PostOptions, Reply, ReplyCapabilities } from '../../core/inbound.js';
import { buttonRows } from './components.js';

export const DISCORD_MESSAGE_LIMIT = 2000;
const THREAD_NAME_LIMIT = 100;
/** a day of quiet before Discord archives a thread the bot opened */
const THREAD_AUTO_ARCHIVE_MINUTES = 1440;
/** Discord drops an interaction not acknowledged within 3 s */
const DEFER_AFTER_MS = 1500;

function capabilities(editIntervalMs: number, threads: boolean): ReplyCapabilities {
  return { maxMessageLength: DISCORD_MESSAGE_LIMIT, minEditIntervalMs: editIntervalMs, markdown: 'commonmark', buttons: true, threads };
}

/**
 * What a model wrote, as a Discord message. Mentions are never parsed: an answer quoting
 * "@everyone" must not ping a whole server.
 */
interface Payload {
  content: string;
  allowedMentions: { parse: [] };
  components?: ReturnType<typeof buttonRows>;
  files?: AttachmentBuilder[];
}

function payload(text: string, options: PostOptions = {}): Payload {
  return {
    content: text,
    allowedMentions: { parse: [] },
    ...(options.buttons !== undefined ? { components: buttonRows(options.buttons) } : {}),
    ...(options.file ? { files: [new AttachmentBuilder(Buffer.from(options.file.content, 'utf8'), { name: options.file.name })] } : {}),
  };
}

/** Answers a message in its channel, thread or DM; can open a thread from that message. */
export class ChannelReply implements Reply {
  readonly capabilities: ReplyCapabilities;
  startThread?: (title: string) => Promise<string>;
  setTitle?: (title: string) => Promise<void>;

  constructor(
    private channel: SendableChannels,
    source: Message | null,
    editIntervalMs: number,
  ) {
    const canThread = source !== null && source.inGuild() && !source.channel.isThread();
    this.capabilities = capabilities(editIntervalMs, canThread);
    if (canThread) {
      this.startThread = async (title: string) => {
        const thread = await source.startThread({ name: clip(title, THREAD_NAME_LIMIT), autoArchiveDuration: THREAD_AUTO_ARCHIVE_MINUTES });
        this.channel = thread;
        // the thread opens under the message's first words and takes the generated title after
        this.setTitle = async (generated: string) => {
          await thread.setName(clip(generated, THREAD_NAME_LIMIT));
        };
        return thread.id;
      };
    }
  }

  async post(text: string, options?: PostOptions): Promise<string> {
    return (await this.channel.send(payload(text, options))).id;
  }

  async edit(messageId: string, text: string, options?: PostOptions): Promise<void> {
    await this.channel.messages.edit(messageId, payload(text, options));
  }

  async typing(): Promise<void> {
    await this.channel.sendTyping();
  }
}

/**
 * Answers a button click in the clicked message's channel. What is meant for the clicker alone
 * (an approval that is not theirs to give) is an ephemeral follow-up of the click, which has
 * been acknowledged (deferred update) before the engine runs.
 */
export class ButtonReply extends ChannelReply {
  override readonly capabilities: ReplyCapabilities;

  constructor(
    private readonly interaction: ButtonInteraction,
    channel: SendableChannels,
    editIntervalMs: number,
  ) {
    super(channel, null, editIntervalMs);
    this.capabilities = { ...capabilities(editIntervalMs, false), privateReplies: true };
  }

  override async post(text: string, options?: PostOptions): Promise<string> {
    if (!options?.private) return super.post(text, options);
    return (await this.interaction.followUp({ ...payload(text, options), flags: MessageFlags.Ephemeral })).id;
  }
}

/**
 * Answers a slash command. A quick answer is the interaction's reply itself; a slow one (past
 * DEFER_AFTER_MS, Discord allows 3 s) is deferred ("thinking…") and filled in later. Further posts
 * are follow-ups; edits go through the interaction's webhook.
 */
export class InteractionReply implements Reply {
  readonly capabilities: ReplyCapabilities;
  startThread?: (title: string) => Promise<string>;
  private state: 'new' | 'deferred' | 'replied' = 'new';
  private deferring: Promise<void> | null = null;
  private readonly deferTimer: NodeJS.Timeout;

  constructor(
    private readonly interaction: ChatInputCommandInteraction,
    editIntervalMs: number,
    private readonly ephemeral: boolean,
  ) {
    const channel = interaction.channel;
    const parent = channel?.isThread() ? channel.parent : channel;
    const canThread = parent !== null && parent !== undefined && 'threads' in parent && (parent.isTextBased() || parent.type === ChannelType.GuildForum);
    // a command's private answers are ephemeral: only the person who ran it sees them
    this.capabilities = { ...capabilities(editIntervalMs, canThread), privateReplies: true };
    if (canThread) {
      // a command has no message to open a thread from (`/fork`): a standalone thread in the channel
      this.startThread = async (title: string) => {
        const thread = await (parent as TextChannel).threads.create({ name: clip(title, THREAD_NAME_LIMIT), autoArchiveDuration: THREAD_AUTO_ARCHIVE_MINUTES });
        return thread.id;
      };
    }
    this.deferTimer = setTimeout(() => this.defer(), DEFER_AFTER_MS);
  }

  private defer(): Promise<void> {
    if (this.state === 'new' && !this.deferring) {
      this.deferring = this.interaction.deferReply(this.ephemeral ? { flags: MessageFlags.Ephemeral } : {}).then(() => {
        this.state = 'deferred';
      });
    }
    return this.deferring ?? Promise.resolve();
  }

  async post(text: string, options: PostOptions = {}): Promise<string> {
    clearTimeout(this.deferTimer);
    await this.deferring;
    if (this.state === 'new') {
      this.state = 'replied';
      const response = await this.interaction.reply({ ...payload(text, options), ...(this.ephemeral ? { flags: MessageFlags.Ephemeral } : {}), withResponse: true });
      return response.resource?.message?.id ?? (await this.interaction.fetchReply()).id;
    }
    if (this.state === 'deferred') {
      this.state = 'replied';
      return (await this.interaction.editReply(payload(text, options))).id;
    }
    const message = await this.interaction.followUp({ ...payload(text, options), ...(options.private ? { flags: MessageFlags.Ephemeral } : {}) });
    return message.id;
  }

  async edit(messageId: string, text: string, options?: PostOptions): Promise<void> {
    await this.interaction.webhook.editMessage(messageId, payload(text, options));
  }

  async typing(): Promise<void> {
    // a slow command shows Discord's own "thinking…" once deferred
  }

  /** After the command ran: one that said nothing (e.g. `/stop` while answering) still answers. */
  async done(): Promise<void> {
    clearTimeout(this.deferTimer);
    await this.deferring;
    if (this.state === 'new') await this.post('Done.');
    else if (this.state === 'deferred') await this.interaction.deleteReply();
  }
}

function clip(text: string, max: number): string {
  const chars = [...text.replace(/\s+/g, ' ').trim()];
  return chars.length <= max ? chars.join('') || 'Conversation' : `${chars.slice(0, max - 1).join('')}…`;
}
