import { describe, expect, it } from 'vitest';
import { MATRIX_MESSAGE_LIMIT, MatrixReply, type MatrixPlace, type MatrixTransport } from './reply.js';

interface Sent {
  roomId: string;
  type: string;
  content: Record<string, any>;
}

function recording(options: { failReactions?: boolean } = {}): MatrixTransport & { sent: Sent[]; uploads: string[] } {
  const sent: Sent[] = [];
  const uploads: string[] = [];
  return {
    sent,
    uploads,
    async send(roomId, type, content) {
      if (type === 'm.reaction' && options.failReactions) throw new Error('M_DUPLICATE_ANNOTATION');
      sent.push({ roomId, type, content });
      return `$sent${sent.length}`;
    },
    async typing() {},
    async upload(name) {
      uploads.push(name);
      return `mxc://example.org/${name}`;
    },
  };
}

const room: MatrixPlace = { roomId: '!r:example.org', threadRoot: null, sourceEventId: '$question', encrypted: true, isDirect: false };

describe('MatrixReply', () => {
  it('opens the thread at the question and posts HTML with a plain body and no pings', async () => {
    const transport = recording();
    const reply = new MatrixReply(transport, { ...room }, 1000);
    expect(reply.capabilities.threads).toBe(true);
    expect(await reply.startThread!('title')).toBe('$question');
    await reply.post('**Hi** @room');
    expect(transport.sent[0]!.content).toMatchObject({
      msgtype: 'm.text',
      body: '**Hi** @room',
      format: 'org.matrix.custom.html',
      formatted_body: '<p><strong>Hi</strong> @room</p>',
      'm.mentions': {},
      'm.relates_to': { rel_type: 'm.thread', event_id: '$question', is_falling_back: true },
    });
  });

  it('edits with m.replace and m.new_content, and shortens only the fallback of a huge edit', async () => {
    const transport = recording();
    const reply = new MatrixReply(transport, { ...room, threadRoot: '$question' }, 1000);
    await reply.edit('$answer', 'better');
    expect(transport.sent[0]!.content).toMatchObject({ body: '* better', 'm.new_content': { body: 'better' }, 'm.relates_to': { rel_type: 'm.replace', event_id: '$answer' } });
    expect(transport.sent[0]!.content['m.relates_to']).not.toHaveProperty('is_falling_back');
    const huge = '€'.repeat(MATRIX_MESSAGE_LIMIT) + '<>'.repeat(2000);
    await reply.edit('$answer', huge);
    const content = transport.sent[1]!.content;
    expect(Buffer.byteLength(JSON.stringify(content))).toBeLessThan(65_536);
    expect(content['m.new_content'].body).toBe(huge);
    expect(content.body.length).toBeLessThan(600);
  });

  it('hints 🔁 ◀️ ▶️ once per finished answer, never during streaming, and survives a refused reaction', async () => {
    const transport = recording();
    const hinted = new Map<string, string[]>();
    const reply = new MatrixReply(transport, { ...room }, 1000, hinted);
    await reply.edit('$answer', 'streaming', { buttons: [{ action: 'stop', label: 'Stop' }] });
    expect(transport.sent.filter((s) => s.type === 'm.reaction')).toHaveLength(0);
    const final = [{ action: 'prev' as const, label: '◀' }, { action: 'next' as const, label: '▶' }, { action: 'regen' as const, label: 'Regenerate' }];
    await reply.edit('$answer', 'done', { buttons: final });
    await new MatrixReply(transport, { ...room }, 1000, hinted).edit('$answer', 'switched', { buttons: final });
    const reactions = transport.sent.filter((s) => s.type === 'm.reaction').map((s) => s.content['m.relates_to'].key);
    expect(reactions).toEqual(['◀️', '▶️', '🔁']);
    const refusing = recording({ failReactions: true });
    await expect(new MatrixReply(refusing, { ...room }, 1000).post('answer', { buttons: final })).resolves.toBe('$sent1');
  });

  it('shows an export inline in an encrypted room and uploads it in an unencrypted one', async () => {
    const encrypted = recording();
    await new MatrixReply(encrypted, { ...room }, 1000).post('Here is the export.', { file: { name: 'chat.md', content: '# Chat\n```\ncode\n```', mimeType: 'text/markdown' } });
    expect(encrypted.uploads).toEqual([]);
    expect(encrypted.sent[0]!.content.body).toContain('chat.md');
    expect(encrypted.sent[0]!.content.body).toContain('# Chat');
    const open = recording();
    await new MatrixReply(open, { ...room, encrypted: false }, 1000).post('Here is the export.', { file: { name: 'chat.md', content: '# Chat', mimeType: 'text/markdown' } });
    expect(open.uploads).toEqual(['chat.md']);
    expect(open.sent.at(-1)!.content).toMatchObject({ msgtype: 'm.file', url: 'mxc://example.org/chat.md', filename: 'chat.md' });
  });

  it('answers a DM in place, without threads', () => {
    const reply = new MatrixReply(recording(), { ...room, isDirect: true }, 1000);
    expect(reply.capabilities.threads).toBe(false);
    expect(reply.startThread).toBeUndefined();
  });
});
