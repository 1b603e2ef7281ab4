import { describe, expect, it } from 'vitest';
import { eventInbound, type InboundContext, type RoomEventLike } from './inbound.js';

const bot = { userId: '@threadloom:example.org', displayName: 'Threadloom', commandPrefix: '!tl' };
const ctx: InboundContext = { bot, isDirect: false, isAdmin: false, authorName: 'Alice' };
const event = (content: Record<string, unknown>, type = 'm.room.message'): RoomEventLike => ({
  event_id: '$e1',
  room_id: '!room:example.org',
  sender: '@alice:example.org',
  type,
  origin_server_ts: 0,
  content,
});

describe('Matrix events as Inbound', () => {
  it('finds the bot addressed by an intentional mention, a pill, its id or its display name, and strips the mention', () => {
    const pill = eventInbound(event({ msgtype: 'm.text', body: 'Threadloom: how do I restart nginx?', formatted_body: '<a href="https://matrix.to/#/@threadloom:example.org">Threadloom</a>: how do I restart nginx?' }), ctx)!;
    expect(pill).toMatchObject({ kind: 'message', mentionsBot: true, text: 'how do I restart nginx?', threadId: null });
    expect(eventInbound(event({ msgtype: 'm.text', body: 'hey', 'm.mentions': { user_ids: [bot.userId] } }), ctx)!.mentionsBot).toBe(true);
    expect(eventInbound(event({ msgtype: 'm.text', body: 'ask threadloom about it' }), ctx)!.mentionsBot).toBe(true);
    expect(eventInbound(event({ msgtype: 'm.text', body: 'the threadlooms are weaving' }), ctx)!.mentionsBot).toBe(false);
    expect(eventInbound(event({ msgtype: 'm.text', body: 'people talking' }), ctx)!.mentionsBot).toBe(false);
  });

  it('reads !tl <command> as a command, !tl alone as help, and !tl with a question as a question', () => {
    expect(eventInbound(event({ msgtype: 'm.text', body: '!tl branch next' }), ctx)).toMatchObject({ kind: 'command', command: { name: 'branch', args: 'next' } });
    expect(eventInbound(event({ msgtype: 'm.text', body: '!tl' }), ctx)).toMatchObject({ kind: 'command', command: { name: 'help', args: '' } });
    expect(eventInbound(event({ msgtype: 'm.text', body: '!tl MODEL openai/gpt-4o' }), ctx)).toMatchObject({ kind: 'command', command: { name: 'model', args: 'openai/gpt-4o' } });
    expect(eventInbound(event({ msgtype: 'm.text', body: '!tl why is the sky blue?' }), ctx)).toMatchObject({ kind: 'message', mentionsBot: true, text: 'why is the sky blue?' });
    expect(eventInbound(event({ msgtype: 'm.text', body: '!tlx model' }), ctx)).toMatchObject({ kind: 'message', mentionsBot: false });
  });

  it('carries the thread root, and a plain reply as replyTo', () => {
    const threaded = eventInbound(event({ msgtype: 'm.text', body: 'and then?', 'm.relates_to': { rel_type: 'm.thread', event_id: '$root', is_falling_back: true, 'm.in_reply_to': { event_id: '$root' } } }), ctx)!;
    expect(threaded).toMatchObject({ threadId: '$root', replyTo: null });
    const reply = eventInbound(event({ msgtype: 'm.text', body: '> <@threadloom:example.org> old answer\n\nwhy?', 'm.relates_to': { 'm.in_reply_to': { event_id: '$answer' } } }), ctx)!;
    expect(reply).toMatchObject({ threadId: null, replyTo: '$answer', text: 'why?' });
  });

  it('turns an m.replace into an edit of the original, in the original thread', () => {
    const edit = eventInbound(
      event({ msgtype: 'm.text', body: '* what is 3+3?', 'm.new_content': { msgtype: 'm.text', body: 'what is 3+3?' }, 'm.relates_to': { rel_type: 'm.replace', event_id: '$question' } }),
      { ...ctx, threadOfOriginal: '$question' },
    )!;
    expect(edit).toMatchObject({ kind: 'edit', messageId: '$question', eventId: '$e1', text: 'what is 3+3?', threadId: '$question' });
  });

  it('turns the action reactions into actions on the answer and ignores other reactions and notices', () => {
    const react = (key: string) => eventInbound(event({ 'm.relates_to': { rel_type: 'm.annotation', event_id: '$answer', key } }, 'm.reaction'), ctx);
    expect(react('🔁')).toMatchObject({ kind: 'action', action: { name: 'regen', targetMessageId: '$answer' } });
    expect(react('◀️')!.action!.name).toBe('prev');
    expect(react('▶')!.action!.name).toBe('next');
    expect(react('⏹️')!.action!.name).toBe('stop');
    expect(react('👍')).toBeNull();
    expect(eventInbound(event({ msgtype: 'm.notice', body: 'Threadloom: another bot talking' }), ctx)).toBeNull();
  });

  it('reads an image without a caption as an attachment with no text, and a captioned one with its caption', () => {
    expect(eventInbound(event({ msgtype: 'm.image', body: 'rack.jpg', url: 'mxc://example.org/abc' }), ctx)!.text).toBe('');
    expect(eventInbound(event({ msgtype: 'm.image', body: 'what is wrong here?', filename: 'rack.jpg', url: 'mxc://example.org/abc' }), ctx)!.text).toBe('what is wrong here?');
  });
});
