import { afterEach, describe, expect, it } from 'vitest';
import type { PlatformDirectory } from '../../../../src/core/search/directory.js';
import { createBuiltinTools, scopeForCaller, type CallerPlace } from '../../../../src/core/tools/builtin/index.js';
import { builtinToolsSchema } from '../../../../src/core/tools/builtin/config.js';
import type { ToolCaller, ToolSource } from '../../../../src/core/tools/types.js';
import { startTestRuntime, type TestRuntime } from '../../../support/runtime.js';

/** ada reads #ops and her DM; bob reads #secret, #ops and his DM */
const directory: PlatformDirectory = {
  async visibleChannels(userId, channelIds) {
    const readable: Record<string, string[]> = { ada: ['ops', 'dm-ada'], bob: ['secret', 'dm-bob', 'ops'] };
    return new Set(channelIds.filter((c) => readable[userId]?.includes(c)));
  },
  permalink: async () => null,
};

const runtimes: TestRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((rt) => rt.shutdown()));
});

let threads = 0;

/** The search command's world: two users, two platforms, a private channel, DMs and two Experiences. */
async function world() {
  const rt = await startTestRuntime();
  runtimes.push(rt);
  const { conversations, experiences } = rt.deps;
  const homelab = (await experiences.get('homelab'))!;
  const general = (await experiences.get('general'))!;
  async function seed(s: { platform?: string; channel: string; author: string; experienceId: number; title: string; question: string }) {
    const conversation = await conversations.create({ platform: s.platform ?? 'test', channelId: s.channel, threadId: `thread-${++threads}` }, s.experienceId, s.author);
    await conversations.update(conversation.id, { title: s.title });
    await conversations.append(conversation.id, { role: 'user', content: s.question, authorId: s.author, authorName: s.author });
    await conversations.append(conversation.id, { role: 'assistant', content: 'Let the cluster rebalance; it settles once every PG is active+clean.', model: 'openai/gpt-4o-mini' });
    return conversation;
  }
  const opsCeph = await seed({ channel: 'ops', author: 'ada', experienceId: homelab.id, title: 'OSD shuffling after a new disk', question: 'The ceph OSDs keep rebalancing since I added a disk <@123> @everyone' });
  await seed({ channel: 'secret', author: 'bob', experienceId: homelab.id, title: 'Secret ceph plans', question: 'ceph rebalancing plans for the secret cluster' });
  await seed({ channel: 'dm-bob', author: 'bob', experienceId: homelab.id, title: 'Bob DM about ceph', question: 'ceph rebalancing in my DM' });
  await seed({ channel: 'ops', author: 'ada', experienceId: general.id, title: 'General ceph chat', question: 'ceph rebalancing in general' });
  await seed({ platform: 'slack', channel: 'ops', author: 'ada', experienceId: homelab.id, title: 'Ceph on Slack', question: 'ceph rebalancing on slack' });
  const adaDm = await seed({ channel: 'dm-ada', author: 'ada', experienceId: homelab.id, title: 'Ada asks in her DM', question: 'what about ceph rebalancing' });
  return { rt, homelab, opsCeph, adaDm };
}

function toolsFor(rt: TestRuntime, places: Record<number, CallerPlace>): ToolSource {
  return createBuiltinTools({
    config: builtinToolsSchema.parse({}),
    now: () => new Date(),
    search: {
      search: rt.deps.search!,
      scopeFor: (caller) => scopeForCaller(rt.deps, caller, rt.engine.directories.get(caller.platform), places[caller.conversationId] ?? { isDirect: false }),
    },
  });
}

function caller(conversationId: number, experienceId: number, userId = 'ada', overrides: Partial<ToolCaller> = {}): ToolCaller {
  return { platform: 'test', userId, userName: userId, conversationId, experienceId, admin: false, ...overrides };
}

async function ask(source: ToolSource, who: ToolCaller, args: Record<string, unknown>) {
  const definition = source.tools().find((t) => t.name === 'search_conversations')!;
  return source.call(definition, args, { caller: who, signal: new AbortController().signal });
}

const HIDDEN_FROM_ADA = ['Secret ceph plans', 'Bob DM about ceph', 'Ceph on Slack'];

describe('search_conversations', () => {
  it('should search, in a DM, every channel of the Experience the user can read, and never another user’s channels or platform', async () => {
    const { rt, homelab, adaDm } = await world();
    rt.engine.directories.set('test', directory);
    const source = toolsFor(rt, { [adaDm.id]: { isDirect: true } });
    const out = await ask(source, caller(adaDm.id, homelab.id), { query: 'ceph rebalancing', limit: 10 });
    expect(out.isError).toBe(false);
    expect(out.text).toContain(`"OSD shuffling after a new disk" (${homelab.name})`);
    expect(out.text).toContain('"Ada asks in her DM"');
    expect(out.text).not.toContain('General ceph chat'); // another Experience, as /search without `all`
    for (const hidden of HIDDEN_FROM_ADA) expect(out.text).not.toContain(hidden);
    expect(out.text.startsWith(`Found in the ${homelab.name} Experience`)).toBe(true);
    expect(out.text).toMatch(/\n1\. ".*" \(.*\), \d{4}-\d{2}-\d{2}, .*matched by keywords/);
  });

  it('should give an admin no more than /search gives them', async () => {
    const { rt, homelab, adaDm } = await world();
    rt.engine.directories.set('test', directory);
    const out = await ask(toolsFor(rt, { [adaDm.id]: { isDirect: true } }), caller(adaDm.id, homelab.id, 'ada', { admin: true }), { query: 'ceph rebalancing', limit: 10 });
    for (const hidden of HIDDEN_FROM_ADA) expect(out.text).not.toContain(hidden);
  });

  it('should search only this channel in a channel, where everyone reads the answer, and say so', async () => {
    const { rt, homelab, opsCeph } = await world();
    rt.engine.directories.set('test', directory);
    const out = await ask(toolsFor(rt, {}), caller(opsCeph.id, homelab.id, 'bob'), { query: 'ceph rebalancing', limit: 10 });
    expect(out.text).toContain('OSD shuffling after a new disk');
    for (const hidden of ['Secret ceph plans', 'Bob DM about ceph', 'Ada asks in her DM']) expect(out.text).not.toContain(hidden);
    expect(out.text).toContain('Note: Only this channel was searched');
  });

  it('should show only conversations the user took part in when the platform has no directory', async () => {
    const { rt, homelab, adaDm } = await world();
    const out = await ask(toolsFor(rt, { [adaDm.id]: { isDirect: true } }), caller(adaDm.id, homelab.id), { query: 'ceph rebalancing', limit: 10 });
    expect(out.text).toContain('OSD shuffling after a new disk');
    for (const hidden of HIDDEN_FROM_ADA) expect(out.text).not.toContain(hidden);
  });

  it('should answer a caller whose conversation is on another platform with nothing', async () => {
    const { rt, homelab, adaDm } = await world();
    const out = await ask(toolsFor(rt, {}), caller(adaDm.id, homelab.id, 'ada', { platform: 'slack' }), { query: 'ceph' });
    expect(out).toEqual({ isError: true, text: 'search is not available in this conversation' });
  });

  it('should neutralise mentions in titles and snippets', async () => {
    const { rt, homelab, opsCeph } = await world();
    const out = await ask(toolsFor(rt, {}), caller(opsCeph.id, homelab.id), { query: 'added a disk' });
    expect(out.text).toContain('OSD shuffling');
    expect(out.text).not.toMatch(/<@123>|(^|[^\u200b])@everyone/);
    expect(out.text).toContain('@\u200beveryone');
  });

  it('should refuse bad arguments with an error the model can read, not a throw', async () => {
    const { rt, homelab, opsCeph } = await world();
    const source = toolsFor(rt, {});
    expect(await ask(source, caller(opsCeph.id, homelab.id), { query: 'ceph', limit: 50 })).toMatchObject({ isError: true, text: expect.stringMatching(/^bad arguments for search_conversations: limit: /) });
    expect(await ask(source, caller(opsCeph.id, homelab.id), {})).toMatchObject({ isError: true, text: expect.stringMatching(/^bad arguments for search_conversations: query: /) });
  });

  it('should say plainly when nothing matched', async () => {
    const { rt, homelab, opsCeph } = await world();
    const out = await ask(toolsFor(rt, {}), caller(opsCeph.id, homelab.id), { query: 'quantum entanglement' });
    expect(out).toMatchObject({ isError: false, text: expect.stringContaining('Nothing found for "quantum entanglement"') });
  });
});
