import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiToken } from '../../src/core/api-tokens.js';
import { startTestAdmin, type TestAdmin } from '../support/admin.js';

// The OpenAI-compatible API through the official `openai` SDK, unchanged, against the admin app
// listening on 127.0.0.1, with the engine and fake providers behind it.

let admin: TestAdmin;
let client: OpenAI;
let token: string;

beforeEach(async () => {
  // titles go to the other fake, so they never take an answer scripted for a question
  admin = await startTestAdmin({ config: (c) => ({ ...c, utilityModel: 'anthropic/claude-haiku-4-5' }) });
  await admin.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = admin.app.server.address() as { port: number };
  ({ token } = await createApiToken(admin.rt.deps.db, 'open-webui'));
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: token, maxRetries: 0 });
});

afterEach(async () => {
  await admin.close();
});

/** chat requests the fake model server saw for answers (titles left out) */
const answerRequests = () => admin.rt.openai.chatRequests().filter((r) => !String(r.body.messages?.[0]?.content).startsWith('Write a title'));
/** title calls, which go to the other fake */
const titleRequests = () => admin.rt.anthropic.chatRequests().filter((r) => String(r.body.system ?? JSON.stringify(r.body.messages)).includes('Write a title'));
const apiConversations = () => admin.rt.deps.db.selectFrom('conversations').selectAll().where('platform', '=', 'api').execute();

describe('OpenAI-compatible API', () => {
  it('lists the active Experiences as models', async () => {
    await admin.rt.deps.experiences.archive('translator');
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain('experience/homelab');
    expect(ids).toContain('experience/general');
    expect(ids).not.toContain('experience/translator');
  });

  it('answers a completion with the Experience persona and model, keeps the conversation and records usage', async () => {
    admin.rt.openai.script({ answer: 'Use `zpool status` to see the pool.', usage: { input: 50, output: 9 } });
    const completion = await client.chat.completions.create({ model: 'experience/homelab', messages: [{ role: 'user', content: 'how do I check my ZFS pool?' }] });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('experience/homelab');
    expect(completion.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Use `zpool status` to see the pool.' });
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 50, completion_tokens: 9, total_tokens: 59 });
    const sent = answerRequests()[0]!.body;
    const homelab = (await admin.rt.deps.experiences.get('homelab'))!;
    expect(sent.messages[0].content).toContain(homelab.personaName);
    const usage = await admin.rt.deps.db.selectFrom('usage_events').selectAll().where('purpose', '=', 'chat').execute();
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({ platform: 'api', tokens_in: 50, tokens_out: 9 });
    expect(await apiConversations()).toHaveLength(1);
    await vi.waitFor(() => expect(titleRequests()).toHaveLength(1));
  });

  it('ends the response when the answer is written, and names the new conversation after it', async () => {
    // the title call (to the other fake) is slow: the client does not wait for it
    admin.rt.openai.script({ answer: 'Three nodes.' });
    admin.rt.anthropic.script({ answer: 'Quorum sizes', delayMs: 1500 }, { answer: 'Streamed chats', delayMs: 1500 });
    for (const stream of [false, true]) {
      const question = stream ? 'and for a streamed chat?' : 'how many nodes for quorum?';
      const text = stream
        ? await (async () => {
            let all = '';
            for await (const chunk of await client.chat.completions.create({ model: 'experience/homelab', messages: [{ role: 'user', content: question }], stream: true })) all += chunk.choices[0]?.delta?.content ?? '';
            return all;
          })()
        : (await client.chat.completions.create({ model: 'experience/homelab', messages: [{ role: 'user', content: question }] })).choices[0]!.message.content;
      expect(text).toBe(stream ? 'Echo: and for a streamed chat?' : 'Three nodes.');
      const conversation = (await apiConversations()).at(-1)!;
      expect(conversation.title).toBeNull();
      await vi.waitFor(async () => expect((await admin.rt.deps.conversations.get(conversation.id)).title).toBe(stream ? 'Streamed chats' : 'Quorum sizes'), { timeout: 5000 });
    }
  });

  it('streams the answer in chunks that reassemble it exactly, with usage when asked', async () => {
    const answer = 'Rebalancing moves placement groups between OSDs until every one is active+clean.';
    admin.rt.openai.script({ answer, chunkSize: 7 });
    const stream = await client.chat.completions.create({ model: 'experience/general', messages: [{ role: 'user', content: 'what is a ceph rebalance?' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(answer);
    expect(chunks).toBeGreaterThan(3);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('stops the answer when a streaming client goes away, and makes no title call for it', async () => {
    admin.rt.openai.script({ answer: 'word '.repeat(400), chunkSize: 5, delayMs: 20 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: 'experience/general', messages: [{ role: 'user', content: 'talk for a long time' }], stream: true }, { signal: controller.signal });
    let received = '';
    try {
      for await (const chunk of stream) {
        received += chunk.choices[0]?.delta?.content ?? '';
        if (received.length > 50) controller.abort();
      }
    } catch {
      // the SDK may end the iteration quietly or throw an abort error
    }
    expect(received.length).toBeGreaterThan(50);
    const answer = async () => admin.rt.deps.db.selectFrom('messages').selectAll().where('role', '=', 'assistant').executeTakeFirst();
    for (let i = 0; i < 200 && (await answer())?.status === 'streaming'; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    const saved = (await answer())!;
    expect(saved.status).toBe('partial');
    expect(saved.content.length).toBeLessThan('word '.repeat(400).length);
    // once the stopped turn has ended (nothing left to cut), no title was asked for: nobody waits for one
    expect(await admin.rt.engine.turns.drain(60_000)).toMatchObject({ cut: 0 });
    expect(titleRequests()).toHaveLength(0);
    expect((await apiConversations())[0]!.title).toBeFalsy();
  });

  it('continues the same conversation when the client sends the chat so far, and starts another for a new chat', async () => {
    admin.rt.openai.script({ answer: 'Three nodes.' }, { answer: 'Use a qdevice.' }, { answer: 'Hello again.' });
    await client.chat.completions.create({ model: 'experience/homelab', messages: [{ role: 'user', content: 'how many nodes for quorum?' }] });
    await client.chat.completions.create({
      model: 'experience/homelab',
      messages: [
        { role: 'system', content: 'You are helpful.' },
        { role: 'user', content: 'how many nodes for quorum?' },
        { role: 'assistant', content: 'Three nodes.' },
        { role: 'user', content: 'and with two?' },
      ],
    });
    let conversations = await apiConversations();
    expect(conversations).toHaveLength(1);
    const path = await admin.rt.deps.conversations.path(conversations[0]!);
    expect(path.map((m) => m.content)).toEqual(['how many nodes for quorum?', 'Three nodes.', 'and with two?', 'Use a qdevice.']);
    // the model saw the earlier turn from the stored conversation
    expect(JSON.stringify(answerRequests().at(-1)!.body.messages)).toContain('Three nodes.');
    await client.chat.completions.create({ model: 'experience/homelab', messages: [{ role: 'user', content: 'a new chat' }] });
    conversations = await apiConversations();
    expect(conversations).toHaveLength(2);
  });

  it('continues the conversation when the client sends back an answer with the notice it was shown under it', async () => {
    // a window of two messages: the second turn leaves the first out and says so under its answer
    await admin.rt.deps.experiences.update('homelab', { contextPolicy: { maxMessages: 2, tokenBudget: null, summarize: false } });
    // answers as models often end them, with white space the client is not shown
    admin.rt.openai.script({ answer: 'Three nodes. ' }, { answer: 'Use a qdevice.\n' }, { answer: 'Yes, one vote.' });
    const chat: Array<{ role: 'user' | 'assistant'; content: string }> = [];
    for (const question of ['how many nodes for quorum?', 'and with two?', 'does the qdevice vote?']) {
      chat.push({ role: 'user', content: question });
      const completion = await client.chat.completions.create({ model: 'experience/homelab', messages: chat });
      chat.push({ role: 'assistant', content: completion.choices[0]!.message.content! });
    }
    expect(chat[3]!.content).toMatch(/^Use a qdevice\.\n\nℹ Only the last 2 messages are used/);
    const conversations = await apiConversations();
    expect(conversations).toHaveLength(1);
    const path = await admin.rt.deps.conversations.path(conversations[0]!);
    expect(path.map((m) => m.content.trim())).toEqual(['how many nodes for quorum?', 'Three nodes.', 'and with two?', 'Use a qdevice.', 'does the qdevice vote?', 'Yes, one vote.']);
  });

  it('answers errors in OpenAI\'s shape: bad key, revoked key, unknown model, bad body', async () => {
    const bad = new OpenAI({ baseURL: client.baseURL, apiKey: 'tl-not-a-real-token', maxRetries: 0 });
    await expect(bad.chat.completions.create({ model: 'experience/general', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client.chat.completions.create({ model: 'experience/nope', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    await expect(client.chat.completions.create({ model: 'experience/general', messages: [] })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(client.chat.completions.create({ model: 'experience/general', messages: [{ role: 'assistant', content: 'I speak first' }] })).rejects.toMatchObject({ status: 400, param: 'messages' });
    await admin.rt.deps.db.updateTable('api_tokens').set({ revoked_at: new Date().toISOString() }).execute();
    await expect(client.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    expect(answerRequests()).toHaveLength(0);
  });

  it('makes tokens on the admin page (shown once, CSRF-protected, audited) that work until revoked', async () => {
    const session = await admin.login();
    expect((await session.post('/tokens', { name: 'scripts' }, { csrf: false })).statusCode).toBe(403);
    const created = await session.post('/tokens', { name: 'scripts' });
    const fresh = /<code class="token">(tl-[A-Za-z0-9_-]+)<\/code>/.exec(created.body)?.[1];
    expect(fresh).toBeDefined();
    expect((await session.get('/tokens')).body).not.toContain(fresh!);
    const other = new OpenAI({ baseURL: client.baseURL, apiKey: fresh!, maxRetries: 0 });
    expect((await other.models.list()).data.length).toBeGreaterThan(0);
    const id = (await admin.rt.deps.db.selectFrom('api_tokens').select('id').where('name', '=', 'scripts').executeTakeFirstOrThrow()).id;
    expect((await session.post(`/tokens/${id}/revoke`)).statusCode).toBe(303);
    await expect(other.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const actions = (await admin.rt.deps.db.selectFrom('audit_log').select('action').execute()).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['api_token.create', 'api_token.revoke']));
  });
});
