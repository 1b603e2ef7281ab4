import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';

const XSS = '<img src=x onerror=alert(1)> E4021';

let admin: TestAdmin;
let session: AdminSession;
const ids: Record<string, { conversation: number; message: number }> = {};

beforeAll(async () => {
  admin = await startTestAdmin();
  session = await admin.login();
  const { conversations, experiences } = admin.rt.deps;
  const seeds = [
    { key: 'ups', experience: 'homelab', platform: 'discord', title: 'UPS self-test', text: 'The UPS logs E4021 at every boot' },
    { key: 'xss', experience: 'general', platform: 'slack', title: 'Odd paste', text: XSS },
    { key: 'dns', experience: 'homelab', platform: 'matrix', title: 'Resolver', text: 'unbound answers slowly after midnight' },
  ];
  for (const [i, s] of seeds.entries()) {
    const conversation = await conversations.create({ platform: s.platform, channelId: `c-${i}`, threadId: null }, (await experiences.require(s.experience)).id, 'ada');
    await conversations.update(conversation.id, { title: s.title });
    const message = await conversations.append(conversation.id, { role: 'user', content: s.text, authorId: 'ada', authorName: 'Ada' });
    ids[s.key] = { conversation: conversation.id, message: message.id };
  }
});

afterAll(async () => {
  await admin.close();
});

const results = (body: string): string => body.slice(body.indexOf('id="conversation-results"'));

describe('search on the Conversations page', () => {
  it('finds messages by keyword, linked to the message in its conversation, with how it matched', async () => {
    const page = await session.get('/conversations?q=e4021');
    expect(page.statusCode).toBe(200);
    const body = results(page.body);
    expect(body).toContain(`href="/conversations/${ids.ups!.conversation}#m${ids.ups!.message}"`);
    expect(body).toContain('UPS self-test');
    expect(body).toContain('The UPS logs E4021 at every boot');
    expect(body).toContain('>keywords<');
    expect(body).not.toContain('Resolver');
    // no embedding model here: the page says what searched
    expect(body).toContain('Search by meaning: no embedding model is configured');
  });

  it('shows stored text escaped', async () => {
    const body = results((await session.get('/conversations?q=E4021')).body);
    expect(body).toContain('&lt;img src=x onerror=alert(1)&gt; E4021');
    expect(body).not.toContain('<img src=x');
  });

  it('narrows by Experience and platform', async () => {
    const homelab = results((await session.get('/conversations?q=E4021&experience=homelab')).body);
    expect(homelab).toContain('UPS self-test');
    expect(homelab).not.toContain('Odd paste');
    const slack = results((await session.get('/conversations?q=E4021&platform=slack')).body);
    expect(slack).toContain('Odd paste');
    expect(slack).not.toContain('UPS self-test');
  });

  it('answers the htmx results request with the results alone', async () => {
    const partial = await session.get('/conversations/results?q=unbound', { 'hx-request': 'true' });
    expect(partial.body).toContain('Resolver');
    expect(partial.body).not.toContain('<form');
  });

  it('says when nothing matched, and refuses an overlong search with a message', async () => {
    expect(results((await session.get('/conversations?q=zeppelin')).body)).toContain('Nothing found for “zeppelin”');
    const long = await session.get(`/conversations?q=${'a'.repeat(501)}`);
    expect(long.statusCode).toBe(200);
    expect(long.body).toContain('A search is at most 500 characters; this one has 501.');
  });

  it('needs a session like every page', async () => {
    const anonymous = await admin.anonymous('/conversations?q=E4021');
    expect(anonymous.statusCode).toBe(303);
    expect(anonymous.headers.location).toContain('/login');
  });
});
