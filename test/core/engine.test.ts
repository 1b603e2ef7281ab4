import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeForPlatformMessage } from '../../src/core/conversations/platform-messages.js';
import { Engine } from '../../src/core/engine.js';
import type { PostOptions } from '../../src/core/inbound.js';
import { RecordingReply, command, inbound } from '../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { answerRequests, until } from '../support/wait.js';

let rt: TestRuntime;
beforeEach(async () => {
  rt = await startTestRuntime();
});
afterEach(async () => {
  await rt.shutdown();
});

async function messages(conversationId?: number) {
  return rt.deps.db
    .selectFrom('messages')
    .selectAll()
    .$if(conversationId !== undefined, (qb) => qb.where('conversation_id', '=', conversationId!))
    .orderBy('id')
    .execute();
}

/** Chat requests a fake saw for answers, leaving out title generation. */
const turnRequests = (fake: TestRuntime['openai']) => answerRequests({ openai: fake });

async function usage() {
  return rt.deps.db.selectFrom('usage_events').selectAll().orderBy('id').execute();
}

describe(Engine.name, () => {
  describe('chat turn', () => {
    it('should stream an answer into the reply and persist it with its model, tokens and cost', async () => {
      rt.openai.script({ answer: 'Run `ss -tlnp` to list listening ports.', usage: { input: 120, output: 12 } });
      const reply = new RecordingReply();
      await rt.engine.handle(inbound('how do I see open ports?'), reply);

      expect(reply.messages[0]!.text).toBe('Run `ss -tlnp` to list listening ports.');
      const [question, answer] = await messages();
      expect(question).toMatchObject({ role: 'user', content: 'how do I see open ports?', author_name: 'Ada' });
      expect(answer).toMatchObject({ role: 'assistant', content: 'Run `ss -tlnp` to list listening ports.', status: 'complete', model: 'openai/gpt-4o-mini', tokens_in: 120, tokens_out: 12 });
      expect(answer!.parent_id).toBe(question!.id);
      const chat = (await usage()).filter((u) => u.purpose === 'chat');
      expect(chat).toHaveLength(1);
      // gpt-4o-mini: $0.15 in / $0.60 out per million tokens
      expect(chat[0]).toMatchObject({ model: 'openai/gpt-4o-mini', tokens_in: 120, tokens_out: 12, estimated: 0, status: 'ok', user_id: 'ada', platform: 'test' });
      expect(chat[0]!.cost_usd).toBeCloseTo((120 * 0.15 + 12 * 0.6) / 1e6, 12);
    });

    it('should know the answer by its post before the last edit shows Regenerate, so a press at once finds it', async () => {
      const seen: Array<number | null> = [];
      class PressingReply extends RecordingReply {
        override async edit(messageId: string, text: string, options: PostOptions = {}): Promise<void> {
          // the moment the buttons appear, as a quick user would press them
          if (options.buttons?.some((b) => b.action === 'regen')) seen.push((await nodeForPlatformMessage(rt.deps.db, 'test', messageId))?.id ?? null);
          return super.edit(messageId, text, options);
        }
      }
      rt.openai.script({ answer: 'Use `ip -br a`.' });
      await rt.engine.handle(inbound('how do I list addresses?'), new PressingReply());
      const answer = (await messages()).find((m) => m.role === 'assistant')!;
      expect(seen).toEqual([answer.id]);
    });

    it('should regenerate on a press that comes the moment the answer is posted, outside the thread\'s queue (a Matrix reaction)', async () => {
      const pressed: Array<Promise<void>> = [];
      const other = new RecordingReply();
      class QuickReply extends RecordingReply {
        override async post(text: string, options: PostOptions = {}): Promise<string> {
          const id = await super.post(text, options);
          // the reaction arrives before the turn has recorded which answer this post shows
          if (!options.private) pressed.push(rt.engine.handle(inbound('', { kind: 'action', action: { name: 'regen', targetMessageId: id }, threadId: 'reactions' }), other));
          return id;
        }
      }
      rt.openai.script({ answer: 'Debian.' });
      await rt.engine.handle(inbound('name a linux distro'), new QuickReply());
      await Promise.all(pressed);
      expect(pressed).toHaveLength(1);
      expect(other.messages.filter((m) => m.private).map((m) => m.text)).toEqual([]);
      const answers = (await messages()).filter((m) => m.role === 'assistant');
      // the second answer is a sibling of the first: a regenerated one
      expect(answers).toHaveLength(2);
      expect(answers[1]!.parent_id).toBe(answers[0]!.parent_id);
    });

    it('should send the persona and substituted variables as the system prompt', async () => {
      await rt.engine.handle(inbound('hi'), new RecordingReply());
      const body = rt.openai.chatRequests()[0]!.body;
      expect(body.messages[0].role).toBe('system');
      expect(body.messages[0].content).toContain('You are talking with Ada');
      expect(body.messages[0].content).toContain('openai/gpt-4o-mini');
      expect(body.messages[0].content).not.toMatch(/\{(user|date|model)\}/);
      expect(body.messages.at(-1)).toEqual({ role: 'user', content: 'hi' });
    });

    it('should answer a redelivered event only once', async () => {
      const reply = new RecordingReply();
      const event = inbound('hello once');
      await rt.engine.handle(event, reply);
      await rt.engine.handle({ ...event }, reply);
      expect(turnRequests(rt.openai)).toHaveLength(1);
      expect(reply.messages).toHaveLength(1);
    });

    it('should ignore bots, and channel chatter that does not mention it', async () => {
      const reply = new RecordingReply({}, true);
      await rt.engine.handle(inbound('beep', { author: { id: 'bot', name: 'Bot', isBot: true } }), reply);
      await rt.engine.handle(inbound('lunch?', { isDirect: false, channelId: 'general' }), reply);
      expect(reply.messages).toHaveLength(0);
      expect(rt.openai.chatRequests()).toHaveLength(0);
    });

    it('should open a thread on a mention and continue it without one', async () => {
      const reply = new RecordingReply({}, true);
      await rt.engine.handle(inbound('@threadloom why is my disk full?', { isDirect: false, channelId: 'ops', mentionsBot: true }), reply);
      expect(reply.threads).toEqual(['@threadloom why is my disk full?']);
      await rt.engine.handle(inbound('it is /var/log', { isDirect: false, channelId: 'ops', threadId: 'thread-1' }), reply);
      const second = turnRequests(rt.openai)[1]!.body.messages.map((m: { content: string }) => m.content);
      expect(second.slice(1)).toEqual(['@threadloom why is my disk full?', 'Echo: @threadloom why is my disk full?', 'it is /var/log']);
      const conversations = await rt.deps.db.selectFrom('conversations').selectAll().execute();
      expect(conversations).toHaveLength(1);
      expect(conversations[0]).toMatchObject({ thread_id: 'thread-1', channel_id: 'ops' });
    });

    it('should continue the conversation a reply outside its thread points into', async () => {
      const reply = new RecordingReply({}, true);
      await rt.engine.handle(inbound('@bot our backups run at 2am', { isDirect: false, channelId: 'ops', mentionsBot: true }), reply);
      const answerId = reply.messages.find((m) => m.text.startsWith('Echo:'))!.id;
      await rt.engine.handle(inbound('and the retention?', { isDirect: false, channelId: 'ops', replyTo: answerId }), reply);
      expect(reply.threads).toHaveLength(1);
      expect(turnRequests(rt.openai).at(-1)!.body.messages.slice(1).map((m: { content: string }) => m.content)).toEqual([
        '@bot our backups run at 2am',
        'Echo: @bot our backups run at 2am',
        'and the retention?',
      ]);
    });

    it('should answer two people writing in the same thread at once in turn, neither cut short', async () => {
      const reply = new RecordingReply({}, true);
      await rt.engine.handle(inbound('@bot standup notes?', { isDirect: false, channelId: 'team', mentionsBot: true }), reply);
      rt.openai.script({ answer: 'answer for Ada', delayMs: 20 }, { answer: 'answer for Bo', delayMs: 20 });
      await Promise.all([
        rt.engine.handle(inbound('mine first', { isDirect: false, channelId: 'team', threadId: 'thread-1' }), reply),
        rt.engine.handle(inbound('and mine', { isDirect: false, channelId: 'team', threadId: 'thread-1', author: { id: 'bo', name: 'Bo', isBot: false } }), reply),
      ]);
      const conversation = await rt.deps.db.selectFrom('conversations').selectAll().executeTakeFirstOrThrow();
      const path = await rt.deps.conversations.path(conversation);
      expect(path.slice(2).map((m) => [m.content, m.status])).toEqual([
        ['mine first', 'complete'],
        ['answer for Ada', 'complete'],
        ['and mine', 'complete'],
        ['answer for Bo', 'complete'],
      ]);
    });

    it('should give the conversation a generated title', async () => {
      rt.openai.script({ answer: 'sure' }, { answer: '"Disk Space On The NAS."' });
      await rt.engine.handle(inbound('my NAS is out of space, what can I delete?'), new RecordingReply());
      const conversation = await rt.deps.db.selectFrom('conversations').selectAll().executeTakeFirstOrThrow();
      expect(conversation.title).toBe('Disk Space On The NAS');
      expect((await usage()).map((u) => u.purpose)).toEqual(['chat', 'title']);
    });

    it('should not look for sources in an Experience without documents', async () => {
      const knowledge = rt.deps.knowledge!;
      let retrievals = 0;
      const retrieve = knowledge.retrieve.bind(knowledge);
      knowledge.retrieve = (...args) => (retrievals++, retrieve(...args));
      await rt.engine.handle(inbound('what can I delete on my NAS?'), new RecordingReply());
      expect(turnRequests(rt.openai)).toHaveLength(1);
      expect(retrievals).toBe(0);
    });

    it("should put the event's request id on the lines its turn logs, and only on them", async () => {
      rt.openai.script({ answer: 'sure' }, { status: 400, errorMessage: 'no titles today' });
      const event = inbound('what can I delete on my NAS?');
      await rt.engine.handle(event, new RecordingReply());
      const warning = rt.logs.find((l) => l.message === 'title generation failed');
      expect(warning?.fields).toMatchObject({ request: `${event.platform}:${event.eventId}`, error: expect.stringContaining('no titles today') });
      rt.deps.log.warn('between events');
      expect(rt.logs.at(-1)).toEqual({ level: 'warn', message: 'between events', fields: undefined });
    });
  });

  describe('branches', () => {
    it('should answer an edited message on a new branch and let the user move between branches', async () => {
      const reply = new RecordingReply();
      const first = inbound('restart nginx');
      await rt.engine.handle(first, reply);
      await rt.engine.handle(inbound('reload nginx', { kind: 'edit', messageId: first.messageId }), reply);
      expect(reply.last().text).toBe('Echo: reload nginx\n\n✎ This answers your edited message (branch 2/2); the earlier version stays reachable with ◀.');

      const list = new RecordingReply();
      await rt.engine.handle(command('branch', 'list'), list);
      expect(list.last().text).toContain('Branch 2 of 2');
      await rt.engine.handle(command('branch', 'prev'), list);
      expect(list.last().text).toContain('Now on branch 1 of 2');
      expect(list.last().text).toContain('Echo: restart nginx');
      const conversation = await rt.deps.db.selectFrom('conversations').selectAll().executeTakeFirstOrThrow();
      const leaf = await rt.deps.conversations.message(conversation.active_leaf_id!);
      expect(leaf.content).toBe('Echo: restart nginx');
    });

    it('should regenerate from the button and switch answers with the arrows', async () => {
      rt.openai.script({ answer: 'first answer' }, { answer: 'title' }, { answer: 'second answer' });
      const reply = new RecordingReply();
      await rt.engine.handle(inbound('name a linux distro'), reply);
      const answerMessage = reply.messages[0]!;
      expect(answerMessage.options.buttons?.map((b) => b.action)).toEqual(['regen']);

      await rt.engine.handle(inbound('', { kind: 'action', action: { name: 'regen', targetMessageId: answerMessage.id } }), reply);
      const regenerated = reply.last();
      expect(regenerated.text).toBe('second answer');
      expect(regenerated.options.buttons?.map((b) => b.label)).toEqual(['◀', '▶ 2/2', 'Regenerate']);

      await rt.engine.handle(inbound('', { kind: 'action', action: { name: 'prev', targetMessageId: regenerated.id } }), reply);
      expect(regenerated.text).toContain('first answer');
      expect(regenerated.text).toContain('branch 1/2');
      const answers = (await messages()).filter((m) => m.role === 'assistant');
      expect(answers.map((a) => a.content)).toEqual(['first answer', 'second answer']);
      expect(answers[1]!.parent_id).toBe(answers[0]!.parent_id);
    });
  });

  describe('routing', () => {
    it('should fall back to the next model when the first fails before its first token, and say so', async () => {
      await rt.deps.experiences.update('general', { fallbackModels: ['anthropic/claude-haiku-4-5'] });
      rt.openai.script({ status: 500 }, { status: 500 }, { status: 500 });
      rt.anthropic.script({ answer: 'from claude' });
      const reply = new RecordingReply();
      await rt.engine.handle(inbound('hello'), reply);
      expect(reply.messages[0]!.text).toContain('from claude');
      expect(reply.messages[0]!.text).toContain('Answered by anthropic/claude-haiku-4-5 (openai/gpt-4o-mini: the model server had an internal error)');
      expect(rt.openai.chatRequests().length).toBeGreaterThanOrEqual(3); // first try + 2 retries
      const chat = (await usage()).filter((u) => u.purpose === 'chat');
      expect(chat.map((u) => u.status)).toEqual(['error', 'error', 'error', 'fallback']);
      expect((await messages()).at(-1)).toMatchObject({ model: 'anthropic/claude-haiku-4-5', status: 'complete' });
    });

    it('should honour a model the user picked, and say when a fallback answered instead', async () => {
      await rt.engine.handle(command('model', 'anthropic/claude-haiku-4-5'), new RecordingReply());
      const reply = new RecordingReply();
      await rt.engine.handle(inbound('hi claude'), reply);
      expect(turnRequests(rt.anthropic)).toHaveLength(1);
      expect(reply.messages[0]!.text).toBe('Echo: hi claude');

      rt.anthropic.script({ status: 404, errorMessage: 'model: claude-haiku-4-5' });
      await rt.engine.handle(inbound('again'), reply);
      expect(reply.last().text).toContain('You picked anthropic/claude-haiku-4-5, but that model does not exist on its provider; openai/gpt-4o-mini answered instead.');
    });

    it('should keep a partial answer when the stream breaks, mark it, and tell the user', async () => {
      rt.openai.script({ answer: 'The first part arrives and then', chunkSize: 5, cutAfterChunks: 3 });
      const reply = new RecordingReply();
      await rt.engine.handle(inbound('tell me'), reply);
      expect(reply.messages[0]!.text).toContain('The first part');
      expect(reply.messages[0]!.text).toContain('⚠ The answer was cut off');
      const answer = (await messages()).at(-1)!;
      expect(answer.status).toBe('partial');
      expect(answer.content).toBe('The first part ');
      expect((await usage()).find((u) => u.purpose === 'chat')).toMatchObject({ status: 'partial', estimated: 1 });
    });

    it('should stop a running answer and keep what arrived', async () => {
      rt.openai.script({ answer: 'one two three four five', chunkSize: 4, stallAfterChunks: 2 });
      const reply = new RecordingReply();
      const turn = rt.engine.handle(inbound('count'), reply);
      await until(() => reply.messages.length > 0 && reply.messages[0]!.text.includes('one'));
      await rt.engine.handle(command('stop'), new RecordingReply());
      await turn;
      expect(reply.messages[0]!.text).toContain('one two');
      expect(reply.messages[0]!.text).toContain('⏹ Stopped.');
      expect((await messages()).at(-1)).toMatchObject({ status: 'partial', content: 'one two ' });
      // the provider hears the hang-up over the socket, a moment after the turn has ended
      await until(() => rt.openai.chatRequests()[0]!.disconnected);
      // and a stopped turn leaves the title to the next one
      expect(rt.openai.chatRequests()).toHaveLength(1);
    });

    it('should tell the user when no model could answer, and keep the question', async () => {
      rt.openai.script({ status: 401, errorMessage: 'bad key' });
      const reply = new RecordingReply();
      await rt.engine.handle(inbound('anyone there?'), reply);
      expect(reply.messages[0]!.text).toContain('⚠ No answer: the provider refused our credentials.');
      const [question, answer] = await messages();
      expect(question!.content).toBe('anyone there?');
      expect(answer).toMatchObject({ status: 'error', content: '' });
    });
  });

  describe('context window', () => {
    it('should summarise messages that fall out of the window, say so once, and use the summary after', async () => {
      await rt.deps.experiences.update('general', { contextPolicy: { maxMessages: 4, tokenBudget: null, summarize: true } });
      const summaryRequests = () => rt.openai.chatRequests().filter((r) => JSON.stringify(r.body).includes('running summary'));
      const reply = new RecordingReply();
      for (let i = 0; i < 2; i++) await rt.engine.handle(inbound(`question ${i}`), reply);
      expect(summaryRequests()).toHaveLength(0);

      // the third question makes five messages on a four-message window
      rt.openai.script({ answer: 'Ada asked questions 0 and 1.' });
      await rt.engine.handle(inbound('question 2'), reply);
      expect(summaryRequests()).toHaveLength(1);
      expect(JSON.stringify(summaryRequests()[0]!.body)).toContain('question 0');
      expect(reply.last().text).toContain('ℹ Earlier messages were summarised');
      const turn = turnRequests(rt.openai).at(-1)!.body.messages;
      expect(turn[1]).toEqual({ role: 'system', content: 'Summary of the earlier part of this conversation:\nAda asked questions 0 and 1.' });
      expect(turn.slice(2).map((m: { content: string }) => m.content)).toEqual(['Echo: question 1', 'question 2']);
      expect(await rt.deps.db.selectFrom('summaries').selectAll().execute()).toHaveLength(1);

      // the window has room again: no new summary, no second notice
      await rt.engine.handle(inbound('question 3'), reply);
      expect(reply.last().text).toBe('Echo: question 3');
      expect((await usage()).filter((u) => u.purpose === 'summary')).toHaveLength(1);
    });
  });

  describe('limits', () => {
    it('should refuse a user over the per-minute limit with when to try again', async () => {
      await rt.close();
      rt = await startTestRuntime({ config: (c) => ({ ...c, limits: { userTurnsPerMinute: 2 } }) });
      const reply = new RecordingReply();
      for (const text of ['one', 'two', 'three']) await rt.engine.handle(inbound(text), reply);
      expect(turnRequests(rt.openai)).toHaveLength(2);
      expect(reply.last()).toMatchObject({ private: true });
      expect(reply.last().text).toMatch(/faster than 2 per minute\. Try again in \d+ s\./);
    });
  });

  describe('commands', () => {
    it('should answer unknown commands and bad arguments with a usage line', async () => {
      const reply = new RecordingReply();
      await rt.engine.handle(command('frobnicate'), reply);
      expect(reply.last().text).toMatch(/^Unknown command "frobnicate"/);
      await rt.engine.handle(command('export', 'pdf'), reply);
      await rt.engine.handle(inbound('hi'), reply);
      await rt.engine.handle(command('export', 'pdf'), reply);
      expect(reply.last().text).toBe('Unknown format "pdf".\nUsage: export [markdown | json]');
    });

    it('should refuse admin commands to others and bind for admins', async () => {
      const reply = new RecordingReply();
      await rt.engine.handle(command('bind', 'homelab', { isDirect: false, channelId: 'ops' }), reply);
      expect(reply.last().text).toBe('Only Threadloom admins can use `bind`.');
      await rt.engine.handle(command('bind', 'homelab', { isDirect: false, channelId: 'ops', authorIsAdmin: true }), reply);
      expect(reply.last().text).toContain('bound to Homelab');
      const threaded = new RecordingReply({}, true);
      await rt.engine.handle(inbound('@bot my proxmox node is down', { isDirect: false, channelId: 'ops', mentionsBot: true }), threaded);
      const conversation = await rt.deps.db.selectFrom('conversations').selectAll().where('channel_id', '=', 'ops').executeTakeFirstOrThrow();
      expect((await rt.deps.experiences.getById(conversation.experience_id))!.slug).toBe('homelab');
    });

    it('should switch persona and Experience for this conversation only', async () => {
      const reply = new RecordingReply();
      await rt.engine.handle(command('persona', 'You are a pirate. Answer like one.'), reply);
      expect(reply.last()).toMatchObject({ text: 'Custom persona set for this conversation.', private: true });
      await rt.engine.handle(inbound('hello'), reply);
      expect(turnRequests(rt.openai).at(-1)!.body.messages[0].content).toMatch(/^You are a pirate\. Answer like one\./);

      await rt.engine.handle(command('persona', 'shell'), reply);
      await rt.engine.handle(inbound('list files'), reply);
      expect(turnRequests(rt.openai).at(-1)!.body.messages[0].content).toMatch(/^You are Shell/);

      await rt.engine.handle(command('experience', 'use translator'), reply);
      expect(reply.last().text).toBe('This conversation now uses the Translator Experience.');
      await rt.engine.handle(inbound('bonjour'), reply);
      expect(turnRequests(rt.openai).at(-1)!.body.messages[0].content).toContain('"Translator" workspace');
      await rt.engine.handle(command('experience', 'use nope'), reply);
      expect(reply.last().text).toBe('No Experience called "nope". Try `experience list`.');
      await rt.engine.handle(command('experience', 'list'), reply);
      expect(reply.last().text).toContain('`homelab` — Homelab');
    });

    it('should fork the conversation into a new thread that carries the history', async () => {
      const reply = new RecordingReply({}, true);
      await rt.engine.handle(inbound('@bot plan the migration', { isDirect: false, channelId: 'ops', mentionsBot: true }), reply);
      await rt.engine.handle(command('fork', '', { isDirect: false, channelId: 'ops', threadId: 'thread-1' }), reply);
      expect(reply.threads).toHaveLength(2);
      expect(reply.last().text).toMatch(/^Forked into a new thread/);
      await rt.engine.handle(inbound('and the rollback?', { isDirect: false, channelId: 'ops', threadId: 'thread-2' }), reply);
      const contents = turnRequests(rt.openai).at(-1)!.body.messages.slice(1).map((m: { content: string }) => m.content);
      expect(contents).toEqual(['@bot plan the migration', 'Echo: @bot plan the migration', 'and the rollback?']);
      expect(await rt.deps.db.selectFrom('conversations').selectAll().where('archived_at', 'is', null).execute()).toHaveLength(2);
    });

    it('should list the commands and the models on offer', async () => {
      const reply = new RecordingReply();
      await rt.engine.handle(command('help'), reply);
      for (const name of ['model', 'models', 'persona', 'experience', 'bind', 'new', 'regen', 'branch', 'fork', 'summary', 'usage', 'export', 'stop', 'help']) {
        expect(reply.last().text).toContain(`\`${name}`);
      }
      await rt.engine.handle(command('models'), reply);
      expect(reply.last().text).toContain('openai/gpt-4o-mini');
      expect(reply.last().text).toContain('anthropic/claude-haiku-4-5');
      expect(reply.last().text).toContain('ollama/llama3.2:latest');
      await rt.engine.handle(command('model', 'claude-haiku-4-5'), reply);
      expect(reply.last().text).toBe('This conversation now uses anthropic/claude-haiku-4-5.');
    });

    it('should summarise on request without changing the conversation', async () => {
      const reply = new RecordingReply();
      await rt.engine.handle(inbound('we chose ZFS mirrors'), reply);
      rt.openai.script({ answer: 'You chose ZFS mirrors.' });
      await rt.engine.handle(command('summary'), reply);
      expect(reply.last().text).toBe('Summary (2 messages):\nYou chose ZFS mirrors.');
      expect((await messages()).length).toBe(2);
    });

    it('should export the branch as Markdown and JSON files', async () => {
      await rt.engine.handle(inbound('what is a VLAN?'), new RecordingReply());
      const reply = new RecordingReply();
      await rt.engine.handle(command('export'), reply);
      expect(reply.last().options.file?.content).toContain('**Ada**\n\nwhat is a VLAN?');
      await rt.engine.handle(command('export', 'json'), reply);
      const data = JSON.parse(reply.last().options.file!.content);
      expect(data.messages.map((m: { content: string }) => m.content)).toEqual(['what is a VLAN?', 'Echo: what is a VLAN?']);
    });

    it('should keep a thread answering without a mention after new, and never open a thread for a command', async () => {
      const reply = new RecordingReply({}, true);
      await rt.engine.handle(command('model', '', { isDirect: false, channelId: 'ops' }), reply);
      expect(reply.threads).toEqual([]);
      await rt.engine.handle(inbound('@bot hello', { isDirect: false, channelId: 'ops', mentionsBot: true }), reply);
      const inThread = { isDirect: false, channelId: 'ops', threadId: 'thread-1' };
      await rt.engine.handle(command('new', '', inThread), reply);
      await rt.engine.handle(inbound('fresh question', inThread), reply);
      expect(reply.last().text).toBe('Echo: fresh question');
      expect(turnRequests(rt.openai).at(-1)!.body.messages.slice(1)).toEqual([{ role: 'user', content: 'fresh question' }]);
    });

    it('should start over with new and report usage', async () => {
      const reply = new RecordingReply();
      await rt.engine.handle(inbound('first'), reply);
      await rt.engine.handle(command('new'), reply);
      await rt.engine.handle(inbound('second'), reply);
      const last = turnRequests(rt.openai).at(-1)!;
      expect(last.body.messages.slice(1)).toEqual([{ role: 'user', content: 'second' }]);
      await rt.engine.handle(command('usage'), reply);
      expect(reply.last().text).toMatch(/^Today \(UTC\): 2 turns, /);
    });
  });
});

describe('admission', () => {
  const inGuild = (roles: string[], overrides: Parameters<typeof inbound>[1] = {}) =>
    inbound('hello', { platform: 'discord', isDirect: false, channelId: 'general', mentionsBot: true, place: { guildId: 'g1', roles, authorServer: null }, ...overrides });

  it('should let only listed people and roles act, in listed guilds, and DMs only when allowed', async () => {
    const discord = rt.deps.config.discord;
    discord.allow.roles.push('helpers');
    discord.allow.guilds.push('g1');
    expect(await rt.engine.admit(inGuild(['helpers']))).toBe('admitted');
    expect(await rt.engine.admit(inGuild(['visitors']))).toBe('not-allowed');
    expect(await rt.engine.admit(inGuild(['helpers'], { place: { guildId: 'g2', roles: ['helpers'], authorServer: null } }))).toBe('not-allowed');
    const dm = inGuild(['helpers'], { isDirect: true, place: { guildId: null, roles: [], authorServer: null } });
    discord.allow.users.push(dm.author.id);
    expect(await rt.engine.admit(dm)).toBe('admitted');
    discord.allowDMs = false;
    expect(await rt.engine.admit(dm)).toBe('not-allowed');
  });

  it('should answer in an unbound channel only commands, threads and DMs when the platform does not answer everywhere', async () => {
    rt.deps.config.slack.answerEverywhere = false;
    const inChannel = (overrides: Parameters<typeof inbound>[1] = {}) => inbound('hi', { platform: 'slack', isDirect: false, channelId: 'C1', mentionsBot: true, ...overrides });
    expect(await rt.engine.admit(inChannel())).toBe('not-here');
    expect(await rt.engine.admit(inChannel({ threadId: '123.4' }))).toBe('admitted');
    expect(await rt.engine.admit(inChannel({ isDirect: true, channelId: 'D1' }))).toBe('admitted');
    expect(await rt.engine.admit(inChannel({ kind: 'command', command: { name: 'bind', args: 'homelab' } }))).toBe('admitted');
    await rt.engine.useExperience('slack', 'C1', 'homelab');
    expect(await rt.engine.admit(inChannel())).toBe('admitted');
    // what is not admitted is not answered
    const reply = new RecordingReply();
    await rt.engine.handle(inChannel({ channelId: 'C2' }), reply);
    expect(reply.messages).toEqual([]);
  });

  it('should read Matrix users by their server, and rooms by their id', async () => {
    const matrix = rt.deps.config.matrix;
    matrix.allow.servers.push('example.org');
    matrix.allow.rooms.push('!ops:example.org');
    const from = (id: string, room = '!ops:example.org') => ({ platform: 'matrix', channelId: room, isDirect: false, author: { id, name: id, isBot: false }, place: { guildId: null, roles: [], authorServer: id.slice(id.indexOf(':') + 1) } });
    expect(rt.engine.mayAct(from('@ada:example.org'))).toBe(true);
    expect(rt.engine.mayAct(from('@eve:elsewhere.net'))).toBe(false);
    expect(rt.engine.mayAct(from('@ada:example.org', '!other:example.org'))).toBe(false);
  });

  it('should apply allowlists and admins saved in the admin web at once, without a restart', async () => {
    const { accessFromConfig, saveAccess } = await import('../../src/core/platforms.js');
    const member = inGuild(['mods']);
    expect(await rt.engine.admit(member)).toBe('admitted');
    expect(rt.engine.isAdmin(member)).toBe(false);
    const access = accessFromConfig(rt.deps.config);
    access.discord.roles = ['helpers'];
    access.discord.adminRoles = ['mods'];
    await saveAccess(rt.deps.db, rt.deps.config, access);
    expect(await rt.engine.admit(member)).toBe('not-allowed');
    expect(rt.engine.isAdmin(member)).toBe(true);
  });
});
