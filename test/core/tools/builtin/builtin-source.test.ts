import { describe, expect, it } from 'vitest';
import { builtinToolsSchema } from '../../../../src/core/tools/builtin/config.js';
import { createBuiltinTools } from '../../../../src/core/tools/builtin/index.js';
import { BUILTIN_SOURCE, type ToolCallContext, type ToolSource } from '../../../../src/core/tools/types.js';

const context: ToolCallContext = {
  caller: { platform: 'test', userId: 'ada', userName: 'Ada', conversationId: 1, experienceId: 1, admin: false },
  signal: new AbortController().signal,
};
/** Thursday 3 December 2026, 23:30 UTC: already Friday in Berlin */
const now = () => new Date('2026-12-03T23:30:00Z');

function call(source: ToolSource, name: string, args: Record<string, unknown>) {
  return source.call(source.tools().find((t) => t.name === name)!, args, context);
}

describe('the built-in tools', () => {
  it('should offer current_time and fetch_url as read-only built-ins, and search_conversations only with a search', () => {
    const source = createBuiltinTools({ config: builtinToolsSchema.parse({}), now });
    expect(source.name).toBe(BUILTIN_SOURCE);
    expect(source.tools().map((t) => t.name)).toEqual(['current_time', 'fetch_url']);
    for (const tool of source.tools()) {
      expect(tool).toMatchObject({ title: tool.name, sourceName: tool.name, source: 'builtin', readOnly: true });
      expect(tool.inputSchema).toMatchObject({ type: 'object' });
      expect(tool.inputSchema).not.toHaveProperty('$schema');
      expect(tool.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    }
    const fetch = source.tools().find((t) => t.name === 'fetch_url')!;
    expect(fetch.inputSchema).toMatchObject({ required: ['url'], properties: { url: { type: 'string', description: expect.any(String) } } });
    const withSearch = createBuiltinTools({ config: builtinToolsSchema.parse({}), now, search: { search: { search: async () => ({ hits: [], semantic: 'off', detail: null }) }, scopeFor: async () => null } });
    expect(withSearch.tools().map((t) => t.name)).toContain('search_conversations');
  });

  it('current_time should give UTC, the local time in the zone and its weekday', async () => {
    const source = createBuiltinTools({ config: builtinToolsSchema.parse({}), now });
    expect(await call(source, 'current_time', { timeZone: 'Europe/Berlin' })).toEqual({
      isError: false,
      text: 'UTC: 2026-12-03T23:30:00.000Z\nLocal time in Europe/Berlin: 2026-12-04T00:30:00+01:00\nWeekday there: Friday',
    });
    expect((await call(source, 'current_time', {})).text).toContain('Weekday there: Thursday');
    expect((await call(source, 'current_time', { timeZone: 'America/Los_Angeles' })).text).toContain('2026-12-03T15:30:00-08:00');
  });

  it('current_time should name a zone it does not know', async () => {
    const source = createBuiltinTools({ config: builtinToolsSchema.parse({}), now });
    expect(await call(source, 'current_time', { timeZone: 'Mars/Olympus_Mons' })).toEqual({ isError: true, text: 'unknown time zone: Mars/Olympus_Mons (use an IANA name such as Europe/Berlin)' });
  });

  it('should answer bad arguments with an error output instead of throwing', async () => {
    const source = createBuiltinTools({ config: builtinToolsSchema.parse({}), now });
    expect(await call(source, 'fetch_url', { url: 42 })).toMatchObject({ isError: true, text: expect.stringMatching(/^bad arguments for fetch_url: url: /) });
    expect(await call(source, 'current_time', { timeZone: 7 })).toMatchObject({ isError: true, text: expect.stringMatching(/^bad arguments for current_time: timeZone: /) });
  });

  it('fetch_url should refuse loopback with the default config, through the source', async () => {
    const source = createBuiltinTools({ config: builtinToolsSchema.parse({}), now });
    expect(await call(source, 'fetch_url', { url: 'http://127.0.0.1:9/' })).toEqual({ isError: true, text: 'refused: 127.0.0.1 is a loopback address (allow it in tools.fetchUrl.allowHosts)' });
  });

  it('the config should name a bad allowHosts entry', () => {
    const result = builtinToolsSchema.safeParse({ fetchUrl: { allowHosts: ['192.168.1.0/33'] } });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]).toMatchObject({ path: ['fetchUrl', 'allowHosts', 0], message: expect.stringContaining('CIDR') });
    expect(builtinToolsSchema.parse({ fetchUrl: { allowHosts: ['homeassistant.local', '*.lan', 'fd00::/8'] } }).fetchUrl).toMatchObject({ timeoutMs: 15_000, maxBytes: 2 * 1024 * 1024 });
  });
});
