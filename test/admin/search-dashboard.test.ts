import { afterEach, describe, expect, it } from 'vitest';
import { startTestAdmin, type TestAdmin } from '../support/admin.js';
import { until } from '../support/wait.js';

const admins: TestAdmin[] = [];
afterEach(async () => {
  await Promise.all(admins.splice(0).map((a) => a.close()));
});

describe('the dashboard’s search index card', () => {
  it('shows the embedding model, the messages indexed and what still waits', async () => {
    const admin = await startTestAdmin({ config: (c) => ({ ...c, search: { ...c.search, embeddingModel: 'ollama/nomic-embed-text', intervalMs: 30 } }) });
    admins.push(admin);
    const { conversations, experiences } = admin.rt.deps;
    const conversation = await conversations.create({ platform: 'test', channelId: 'ops', threadId: null }, (await experiences.defaultExperience()).id, 'ada');
    await conversations.append(conversation.id, { role: 'user', content: 'how do I rotate restic snapshots?', authorId: 'ada' });
    await conversations.append(conversation.id, { role: 'assistant', content: 'forget --keep-daily 7, then prune' });
    await until(async () => (await admin.rt.deps.search!.indexer.status()).indexed === 2);
    const session = await admin.login();
    const page = (await session.get('/')).body;
    const card = page.slice(page.indexOf('id="search-state"'), page.indexOf('id="errors-h"'));
    expect(card).toContain('ollama/nomic-embed-text');
    expect(card).toContain('8 dimensions');
    expect(card).toMatch(/Messages indexed<\/dt><dd>2 <small>\(100%\)/);
    expect(card).toMatch(/Waiting<\/dt><dd>0</);
    expect(card).toContain('>idle<');
  });

  it('says keyword search only when no embedding model is set', async () => {
    const admin = await startTestAdmin();
    admins.push(admin);
    const session = await admin.login();
    expect((await session.get('/')).body).toContain('Keywords only: no embedding model is set');
  });
});
