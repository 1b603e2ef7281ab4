import type { Reply, ReplyButton } from '../inbound.js';
import type { ToolDefinition } from './types.js';

/** Who asked for the answer a tool call is part of: they (or an admin) may approve it. */
export interface Approver {
  /** `platform:userId` */
  key: string;
  name: string;
}

export interface ApprovalRequest {
  reply: Reply;
  platform: string;
  conversationId: number;
  asker: Approver;
  tool: ToolDefinition;
  /** the call's arguments as the model wrote them */
  argumentsText: string;
  timeoutMs: number;
  /** Stop, or a shutdown: the request ends as not approved */
  signal: AbortSignal;
}

export type ApprovalDecision =
  | { approved: true; by: string; byName: string }
  | { approved: false; by: string | null; byName: string | null; reason: 'denied' | 'timeout' | 'stopped' | 'unavailable' };

/** Someone answering an approval: a button, a reaction, or `approve`/`deny` typed in the chat. */
export interface ApprovalAnswer {
  platform: string;
  /** the platform message the request was posted as; null: the newest open request in `conversationId` */
  messageId: string | null;
  conversationId?: number;
  who: Approver & { admin: boolean };
  approve: boolean;
}

export interface ApprovalAudit {
  (entry: { actor: string; action: string; target: string; detail: string }): Promise<void>;
}

interface Pending {
  request: ApprovalRequest;
  messageId: string;
  settle: (decision: ApprovalDecision) => void;
}

const BUTTONS: ReplyButton[] = [
  { action: 'approve', label: 'Approve' },
  { action: 'deny', label: 'Deny' },
];

/**
 * Tool calls that need a person's yes. The request is posted where the conversation is, with
 * Approve / Deny (buttons, reactions, or the typed commands); only the asker or an admin may
 * answer; no answer in time is a denial. Every decision is audited with who, what and the
 * arguments.
 */
export class ApprovalDesk {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly audit: ApprovalAudit) {}

  async ask(request: ApprovalRequest): Promise<ApprovalDecision> {
    if (request.signal.aborted) return { approved: false, by: null, byName: null, reason: 'stopped' };
    const seconds = Math.round(request.timeoutMs / 1000);
    const how = request.reply.capabilities.buttons ? 'Approve or Deny below' : 'Answer with `approve` or `deny`';
    const text = [
      `🔧 ${request.tool.title} wants to run with:`,
      codeBlock(prettyArguments(request.argumentsText)),
      `${how}. Only ${request.asker.name} or an admin may answer; no answer within ${seconds} s denies it.`,
    ].join('\n');
    let messageId: string;
    try {
      messageId = await request.reply.post(text, { buttons: BUTTONS });
    } catch {
      return { approved: false, by: null, byName: null, reason: 'unavailable' };
    }
    const key = keyOf(request.platform, messageId);
    const decision = await new Promise<ApprovalDecision>((resolve) => {
      const timer = setTimeout(() => settle({ approved: false, by: null, byName: null, reason: 'timeout' }), request.timeoutMs);
      const onStop = (): void => settle({ approved: false, by: null, byName: null, reason: 'stopped' });
      request.signal.addEventListener('abort', onStop, { once: true });
      const settle = (d: ApprovalDecision): void => {
        if (!this.pending.has(key)) return;
        this.pending.delete(key);
        clearTimeout(timer);
        request.signal.removeEventListener('abort', onStop);
        resolve(d);
      };
      this.pending.set(key, { request, messageId, settle });
    });
    await this.audit({
      actor: decision.by ?? 'threadloom',
      action: decision.approved ? 'tool.approved' : `tool.${decision.reason === 'denied' ? 'denied' : decision.reason}`,
      target: `conversation ${request.conversationId}`,
      detail: `${request.tool.title} ${request.argumentsText}`,
    }).catch(() => undefined);
    await request.reply
      .edit(messageId, `${text.split('\n').slice(0, -1).join('\n')}\n${outcomeLine(decision, seconds)}`, { buttons: [] })
      .catch(() => undefined);
    return decision;
  }

  /**
   * An answer to an open request. Returns what to tell the person who answered when it was not
   * taken (not theirs to answer, nothing open), or null when it decided the request.
   */
  answer(answer: ApprovalAnswer): string | null {
    const open = answer.messageId !== null
      ? this.pending.get(keyOf(answer.platform, answer.messageId))
      : [...this.pending.values()].filter((p) => p.request.platform === answer.platform && p.request.conversationId === answer.conversationId).at(-1);
    if (!open) return 'There is no tool call waiting for an answer here.';
    const { request } = open;
    if (answer.who.key !== request.asker.key && !answer.who.admin) {
      return `Only ${request.asker.name} (who asked) or an admin may answer this.`;
    }
    open.settle(answer.approve
      ? { approved: true, by: answer.who.key, byName: answer.who.name }
      : { approved: false, by: answer.who.key, byName: answer.who.name, reason: 'denied' });
    return null;
  }

  /** Whether a platform message is an open approval request (its buttons are ours). */
  isOpen(platform: string, messageId: string): boolean {
    return this.pending.has(keyOf(platform, messageId));
  }

  /** Denies everything still open: a shutdown. */
  closeAll(): void {
    for (const open of [...this.pending.values()]) open.settle({ approved: false, by: null, byName: null, reason: 'stopped' });
  }
}

function keyOf(platform: string, messageId: string): string {
  return `${platform}:${messageId}`;
}

function outcomeLine(decision: ApprovalDecision, seconds: number): string {
  if (decision.approved) return `✅ Approved by ${decision.byName}.`;
  switch (decision.reason) {
    case 'denied':
      return `❌ Denied by ${decision.byName}.`;
    case 'timeout':
      return `⌛ No answer within ${seconds} s: denied.`;
    case 'stopped':
      return '⏹ Stopped before anyone answered: not run.';
    case 'unavailable':
      return '❌ Not run.';
  }
}

/** Arguments as readable JSON when they parse; the model's text as it is otherwise. */
function prettyArguments(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A fenced block the arguments cannot close: they are the model's text, not ours to render. */
export function codeBlock(text: string, max = 1500): string {
  const shown = text.length > max ? `${text.slice(0, max)}…` : text;
  return `\`\`\`\n${shown.replace(/`{3,}/g, (m) => '`\u200b'.repeat(m.length))}\n\`\`\``;
}
