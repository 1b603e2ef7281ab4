import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';

/**
 * The search box on the Conversations page, through the real runtime: keyword search needs no
 * embedding model (FTS5 follows the messages by triggers), so every hit here matched by keywords.
 */

const XSS = '<script>alert(1)</script><img src=x onerror=alert(1)> E4021';

let admin: TestAdmin;
let session: AdminSession;
const seeded: Record<string, { conversation: number; message: number }> = {};

beforeAll(async () => {
  admin = await startTestAdmin();
  session = await admin.login();
  const { conversations, experiences } = admin.rt.deps;
  const seeds = [
    { key: 'ups', experience: 'homelab', platform: 'discord', title: 'UPS keeps beeping', role: 'user', text: 'The UPS logs E4021 at every boot, then beeps twice' },
    { key: 'backup', experience: 'general', platform: 'discord', title: 'Nightly backup window', role: 'user', text: 'restic prunes the repository every night at three' },
    { key: 'xss', experience: 'general', platform: 'slack', title: 'A strange paste', role: 'user', text: XSS },
    { key: 'answer', experience: 'homelab', platform: 'matrix', title: 'Zigbee pairing', role: 'assistant', text: 'Hold the button until the zigbee bulb blinks five times' },
  ] as const;
  for (const [i, s] of seeds.entries()) {
    const conversation = await conversations.create({ platform: s.platform, channelId: `search-${i}`, threadId: `t-${i}` }, (await experiences.require(s.experience)).id, 'discord:ada');
    await conversations.update(conversation.id, { title: s.title });
    const message = await conversations.append(
      conversation.id,
      s.role === 'user' ? { role: 'user', content: s.text, authorId: 'ada', authorName: 'Ada Lovelace' } : { role: 'assistant', content: s.text, model: 'openai/gpt-4o-mini', status: 'complete' },
    );
    seeded[s.key] = { conversation: conversation.id, message: message.id };
  }
});

afterAll(async () => {
  await admin.close();
});

/** the results area only: the filter form above it echoes the query */
const results = (body: string): string => body.slice(body.indexOf('<div id="conversation-results">'));
/** conversation ids linked from the search hits */
const hitIds = (body: string): number[] => [...results(body).matchAll(/<a href="\/conversations\/(\d+)#m\d+">/g)].map((m) => Number(m[1]));

describe('Conversations page search', () => {
  it('should find only the conversation whose message has the keyword, linked to that message', async () => {
    const page = await session.get('/conversations?q=E4021&platform=discord');
    expect(page.statusCode).toBe(200);
    const body = results(page.body);
    expect(hitIds(page.body)).toEqual([seeded.ups!.conversation]);
    expect(body).toContain(`<a href="/conversations/${seeded.ups!.conversation}#m${seeded.ups!.message}">UPS keeps beeping</a>`);
    expect(body).toContain('The UPS logs E4021 at every boot, then beeps twice');
    expect(body).not.toContain('Nightly backup window');
    // Experience, platform, date and author, then which method matched
    expect(body).toMatch(/<small>Homelab &amp; DevOps buddy · discord · 2026-\d\d-\d\d \d\d:\d\d UTC · Ada Lovelace<\/small>/);
    expect(body).toContain('<span class="badge match-keywords">keywords</span>');
    expect(body).not.toContain('match-meaning');
    // no embedding model in the test runtime: the page says why meaning did not take part
    expect(body).toContain('no embedding model is configured');
  });

  it('should link to the message anchor the conversation page really has', async () => {
    const page = await session.get('/conversations?q=E4021&platform=discord');
    const href = /<a href="(\/conversations\/\d+)#(m\d+)">/.exec(results(page.body));
    expect(href).not.toBeNull();
    const conversation = await session.get(href![1]!);
    expect(conversation.statusCode).toBe(200);
    expect(conversation.body).toContain(`id="${href![2]}"`);
  });

  it('should label an assistant message as an answer', async () => {
    const body = results((await session.get('/conversations?q=zigbee')).body);
    expect(hitIds(body)).toEqual([seeded.answer!.conversation]);
    expect(body).toMatch(/matrix · [^<]*UTC · answer/);
  });

  it('should show message content escaped in the snippet, and the query escaped in the form', async () => {
    const page = (await session.get(`/conversations?q=${encodeURIComponent('E4021 <script>')}&platform=slack`)).body;
    expect(hitIds(page)).toEqual([seeded.xss!.conversation]);
    expect(results(page)).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; E4021');
    expect(page).toContain('value="E4021 &lt;script&gt;"');
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<img src=x');
  });

  it('should narrow the search by the Experience filter, and find nothing for an unknown Experience', async () => {
    expect(hitIds((await session.get('/conversations?q=E4021')).body).sort()).toEqual([seeded.ups!.conversation, seeded.xss!.conversation].sort());
    expect(hitIds((await session.get('/conversations?q=E4021&experience=homelab')).body)).toEqual([seeded.ups!.conversation]);
    expect(hitIds((await session.get('/conversations?q=E4021&experience=general')).body)).toEqual([seeded.xss!.conversation]);
    expect(results((await session.get('/conversations?q=E4021&experience=no-such-experience')).body)).toContain('Nothing found for “E4021”');
  });

  it('should keep the other filters in the form next to the search', async () => {
    const page = (await session.get('/conversations?q=E4021&experience=homelab&platform=discord')).body;
    const start = page.indexOf('<form method="get" action="/conversations"');
    const form = page.slice(start, page.indexOf('</form>', start));
    expect(start).toBeGreaterThan(-1);
    expect(form).toContain('name="q" type="search" value="E4021"');
    expect(form).toMatch(/<option value="homelab" selected>/);
    expect(form).toMatch(/<option value="discord" selected>/);
    expect(hitIds(page)).toEqual([seeded.ups!.conversation]);
  });

  it('should say plainly when nothing is found, escaping the query', async () => {
    const body = results((await session.get('/conversations?q=zeppelin')).body);
    expect(body).toContain('Nothing found for “zeppelin”.');
    expect(hitIds(body)).toEqual([]);
    const odd = await session.get(`/conversations?q=${encodeURIComponent('"<b>" AND NOT* (')}`);
    expect(odd.statusCode).toBe(200);
    expect(results(odd.body)).toContain('Nothing found for “&quot;&lt;b&gt;&quot; AND NOT* (”.');
  });

  it('should refuse a search over 500 characters with a message, and accept one of 500', async () => {
    const long = await session.get(`/conversations?q=E4021${'a'.repeat(496)}`);
    expect(long.statusCode).toBe(200);
    expect(results(long.body)).toContain('A search is at most 500 characters; this one has 501.');
    expect(hitIds(long.body)).toEqual([]);
    // trimmed first: surrounding spaces do not count
    const padded = await session.get(`/conversations?q=${encodeURIComponent(`  E4021 ${'a'.repeat(494)}  `)}`);
    expect(results(padded.body)).not.toContain('A search is at most 500 characters');
    const partial = await session.get(`/conversations/results?q=${'b'.repeat(600)}`, { 'hx-request': 'true' });
    expect(partial.statusCode).toBe(200);
    expect(partial.body).toContain('this one has 600');
  });

  it('should answer the htmx form request with the search results alone', async () => {
    const partial = await session.get('/conversations/results?q=restic', { 'hx-request': 'true' });
    expect(partial.statusCode).toBe(200);
    expect(partial.body).not.toContain('<html');
    expect(partial.body).not.toContain('<form');
    expect(hitIds(`<div id="conversation-results">${partial.body}`)).toEqual([seeded.backup!.conversation]);
  });

  it('should say search is unavailable when the runtime has no search service', async () => {
    const deps = admin.rt.deps;
    const service = deps.search;
    deps.search = undefined;
    try {
      const page = (await session.get('/conversations')).body;
      expect(page).toContain('Search is unavailable in this process');
      expect(page).toMatch(/<input id="c-q" name="q" type="search" disabled/);
      const asked = await session.get('/conversations?q=E4021');
      expect(asked.statusCode).toBe(200);
      expect(results(asked.body)).toContain('Search is not available in this process.');
    } finally {
      deps.search = service;
    }
    expect((await session.get('/conversations')).body).not.toContain('Search is unavailable');
  });

  it('should send a visitor without a session to the login page', async () => {
    for (const url of ['/conversations?q=x', '/conversations/results?q=x']) {
      const response = await admin.anonymous(url);
      expect(response.statusCode, url).toBe(303);
      expect(response.headers.location, url).toContain('/login');
      expect(response.body, url).not.toContain('Nothing found');
    }
  });
});
