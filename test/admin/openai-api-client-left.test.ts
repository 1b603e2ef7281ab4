import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiToken } from '../../src/core/api-tokens.js';
import { startTestAdmin, type TestAdmin } from '../support/admin.js';

// A /v1 streaming client that goes away: what its stopped turn still does with the providers.

let admin: TestAdmin;
let client: OpenAI;

beforeEach(async () => {
  // titles go to the other fake, where they are easy to count
  admin = await startTestAdmin({ config: (c) => ({ ...c, utilityModel: 'anthropic/claude-haiku-4-5' }) });
  await admin.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = admin.app.server.address() as { port: number };
  const { token } = await createApiToken(admin.rt.deps.db, 'open-webui');
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: token, maxRetries: 0 });
});

afterEach(async () => {
  await admin.close();
});

const titleRequests = () => admin.rt.anthropic.chatRequests().filter((r) => JSON.stringify(r.body).includes('Write a title'));
const titles = async () => (await admin.rt.deps.db.selectFrom('conversations').select(['thread_id', 'title']).where('platform', '=', 'api').orderBy('id').execute()).map((c) => c.title);

describe('OpenAI-compatible API, a client that leaves', () => {
  it('makes no title call for a turn stopped because its streaming client went away', async () => {
    // a finished turn does get its title: the count below is not empty by accident
    await client.chat.completions.create({ model: 'experience/general', messages: [{ role: 'user', content: 'a first chat' }] });
    expect(titleRequests()).toHaveLength(1);

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
    // every turn has ended, the stopped one included (nothing had to be cut)
    expect(await admin.rt.engine.turns.drain(60_000)).toMatchObject({ cut: 0 });
    const answer = await admin.rt.deps.db.selectFrom('messages').select('status').where('role', '=', 'assistant').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(answer.status).toBe('partial');
    expect(titleRequests()).toHaveLength(1);
    expect((await titles())[1]).toBeFalsy();
  });
});
