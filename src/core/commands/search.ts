import type { PlatformDirectory } from '../search/directory.js';
import { chatScope } from '../search/scope.js';
import type { SearchHit } from '../search/service.js';
import { UsageError, type CommandSpec } from './types.js';

const RESULTS = 5;

function day(iso: string): string {
  return iso.slice(0, 10);
}

export const SEARCH: CommandSpec = {
  name: 'search',
  usage: 'search [all] <words or a question>',
  summary: 'find past conversations by meaning and by keywords; `all` looks beyond this Experience',
  private: true,
  async run(ctx) {
    const { deps, inbound, reply } = ctx;
    const all = ctx.args[0]?.toLowerCase() === 'all';
    const query = (all ? ctx.rest.replace(/^\S+\s*/, '') : ctx.rest).trim();
    if (!query) throw new UsageError('What should I look for?');
    if (query.length > 500) throw new UsageError('Keep the search under 500 characters.');
    const search = deps.search;
    if (!search) {
      await ctx.say('Search is not available here.');
      return;
    }
    const directory = ctx.actions.directory;
    const answeredPrivately = reply.capabilities.privateReplies === true;
    const scope = await chatScope(deps, inbound, directory, { all, answeredPrivately });
    const result = await search.search({
      query,
      filter: scope.filter,
      limit: RESULTS,
      asker: { platform: inbound.platform, userId: inbound.author.id },
    });
    const lines: string[] = [];
    if (!result.hits.length) {
      lines.push(`Nothing found for “${query}” in ${scope.label}.`);
    } else {
      lines.push(`Found in ${scope.label}, for “${query}”:`);
      for (const [i, hit] of result.hits.entries()) lines.push(...(await describe(i + 1, hit, directory)));
    }
    if (scope.narrowed) lines.push(`_${scope.narrowed}_`);
    if (result.semantic !== 'on' && result.detail) lines.push(`_Search by meaning: ${result.detail}._`);
    await ctx.say(lines.join('\n'));
  },
};

/** Why a hit is in the list, in the user's words: its keywords, its meaning, or both. */
function whyMatched(matched: SearchHit['matched']): string {
  if (matched.includes('keywords') && matched.includes('meaning')) return 'matched keywords and meaning';
  return matched.includes('keywords') ? 'matched keywords' : 'matched by meaning';
}

async function describe(n: number, hit: SearchHit, directory: PlatformDirectory | undefined): Promise<string[]> {
  let link: string | null = null;
  try {
    link = (await directory?.permalink({ channelId: hit.channelId, threadId: hit.threadId || null, platformMessageId: hit.platformMessageId })) ?? null;
  } catch {
    link = null; // a link is a convenience: the result stands without it
  }
  const who = hit.role === 'assistant' ? 'answer' : hit.role === 'tool' ? 'tool result' : (hit.authorName ?? 'someone');
  return [
    `${n}. **${hit.title}** · ${hit.experienceName} · ${day(hit.createdAt)} · ${who} · ${whyMatched(hit.matched)}`,
    `> ${hit.snippet}`,
    ...(link ? [`  ${link}`] : []),
  ];
}
