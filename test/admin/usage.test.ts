import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/core/db/migrate.js';
import { openDatabase } from '../../src/core/db/open.js';
import type { NewUsageEventRow } from '../../src/core/usage/table.js';
import { csvField, usageCsv } from '../../src/core/usage/csv.js';
import { usageReport, type UsageReport } from '../../src/core/usage/report.js';
import { startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';
import { copyMigrations, createTestDatabase, TestContext } from '../support/db.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

function event(createdAt: string, fields: Partial<NewUsageEventRow> = {}): NewUsageEventRow {
  return {
    created_at: createdAt,
    platform: 'discord',
    user_id: 'u1',
    experience_id: null,
    conversation_id: null,
    message_id: null,
    provider: 'openai',
    model: 'openai/gpt-4o-mini',
    purpose: 'chat',
    tokens_in: 0,
    tokens_out: 0,
    estimated: 0,
    cost_usd: 0,
    latency_ms: null,
    ttft_ms: null,
    status: 'ok',
    error: null,
    ...fields,
  };
}

async function csvText(db: Db['db'], ...args: Parameters<typeof usageCsv> extends [unknown, ...infer Rest] ? Rest : never): Promise<string> {
  let text = '';
  for await (const chunk of usageCsv(db, ...args)) text += chunk;
  return text;
}

/** Splits CSV text into records of fields, honouring quotes (so a quoted line break stays in its field). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  return records;
}

/** The figures a report says, without the float noise of summing costs in a different order. */
function comparable(report: UsageReport): unknown {
  const round = <T extends { costUsd: number }>(rows: T[]): T[] => rows.map((r) => ({ ...r, costUsd: Math.round(r.costUsd * 1e6) }));
  const byKey = <T>(rows: T[], key: (r: T) => string): T[] => [...rows].sort((a, b) => key(a).localeCompare(key(b)));
  return {
    totals: round([report.totals]),
    perDay: round(report.perDay),
    byModel: byKey(round(report.byModel), (r) => r.model),
    byExperience: byKey(round(report.byExperience), (r) => String(r.experienceId)),
    byPlatform: byKey(round(report.byPlatform), (r) => String(r.platform)),
    byUser: byKey(round(report.byUser), (r) => `${r.platform}/${r.userId}`),
    userCount: report.userCount,
  };
}

describe('usageReport', () => {
  let database: Db;
  let support: number;
  let writing: number;

  beforeAll(async () => {
    database = await createTestDatabase();
    const db = database.db;
    const experiences = new TestContext(database);
    support = (await experiences.newExperience({ slug: 'support', name: 'Support <desk>' })).id;
    writing = (await experiences.newExperience({ slug: 'writing', name: 'Writing' })).id;
    await db.insertInto('users').values([{ platform: 'discord', platform_user_id: 'u1', name: 'Ada' }, { platform: 'slack', platform_user_id: 'u1', name: 'Slack Ada' }]).execute();
    // A hand-made month around the February/March boundary. The range 2026-02-27..2026-03-02
    // (to exclusive) holds rows 2..7; row 1 is a millisecond early, row 8 exactly at `to`.
    await db
      .insertInto('usage_events')
      .values([
        event('2026-02-26T23:59:59.999Z', { tokens_in: 1000, tokens_out: 1000, cost_usd: 1 }),
        event('2026-02-27T00:00:00.000Z', { experience_id: support, tokens_in: 100, tokens_out: 10, cost_usd: 0.25 }),
        event('2026-02-27T12:00:00.000Z', { experience_id: support, tokens_in: 200, tokens_out: 20, cost_usd: 0.5, purpose: 'title' }),
        event('2026-02-28T08:00:00.000Z', { experience_id: writing, user_id: 'u2', model: 'anthropic/claude-haiku-4-5', provider: 'anthropic', tokens_in: 300, tokens_out: 30, cost_usd: 0.125 }),
        event('2026-03-01T09:00:00.000Z', { experience_id: writing, platform: 'slack', tokens_in: 400, tokens_out: 40, cost_usd: 1.5 }),
        event('2026-03-01T10:00:00.000Z', { platform: null, user_id: null, model: 'ollama/llama3.2', provider: 'ollama', purpose: 'summary', tokens_in: 50, tokens_out: 5, cost_usd: 0 }),
        event('2026-03-01T23:59:59.999Z', { experience_id: support, platform: 'matrix', user_id: '@bo:hs', tokens_in: 7, tokens_out: 3, cost_usd: 0.0625 }),
        event('2026-03-02T00:00:00.000Z', { tokens_in: 5000, tokens_out: 5000, cost_usd: 9 }),
      ])
      .execute();
  });

  afterAll(async () => {
    await database.cleanup();
  });

  describe('totals and breakdowns', () => {
    it('should sum exactly the rows inside [from, to), hand-computed', async () => {
      const report = await usageReport(database.db, { from: '2026-02-27', to: '2026-03-02' });
      expect(report.days).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
      expect(report.totals).toEqual({ events: 6, chatTurns: 4, tokensIn: 1057, tokensOut: 108, costUsd: 2.4375 });
    });

    it('should give per day × model cells for the chart', async () => {
      const report = await usageReport(database.db, { from: '2026-02-27', to: '2026-03-02' });
      expect(report.perDay.map((c) => [c.day, c.model, c.tokensIn, c.tokensOut, c.costUsd, c.events])).toEqual([
        ['2026-02-27', 'openai/gpt-4o-mini', 300, 30, 0.75, 2],
        ['2026-02-28', 'anthropic/claude-haiku-4-5', 300, 30, 0.125, 1],
        ['2026-03-01', 'ollama/llama3.2', 50, 5, 0, 1],
        ['2026-03-01', 'openai/gpt-4o-mini', 407, 43, 1.5625, 2],
      ]);
    });

    it('should break down by model, Experience (with names), platform and user (with names)', async () => {
      const report = await usageReport(database.db, { from: '2026-02-27', to: '2026-03-02' });
      expect(report.byModel.map((m) => [m.model, m.tokensIn + m.tokensOut])).toEqual([
        ['openai/gpt-4o-mini', 780],
        ['anthropic/claude-haiku-4-5', 330],
        ['ollama/llama3.2', 55],
      ]);
      expect(report.byExperience.map((e) => [e.name, e.experienceId, e.costUsd, e.events])).toEqual([
        ['Writing', writing, 1.625, 2],
        ['Support <desk>', support, 0.8125, 3],
        [null, null, 0, 1],
      ]);
      expect(report.byPlatform.map((p) => [p.platform, p.costUsd])).toEqual([
        ['slack', 1.5],
        ['discord', 0.875],
        ['matrix', 0.0625],
        [null, 0],
      ]);
      expect(report.byUser.map((u) => [u.platform, u.userId, u.name, u.costUsd])).toEqual([
        ['slack', 'u1', 'Slack Ada', 1.5],
        ['discord', 'u1', 'Ada', 0.75],
        ['discord', 'u2', null, 0.125],
        ['matrix', '@bo:hs', null, 0.0625],
        [null, null, null, 0],
      ]);
      expect(report.userCount).toBe(5);
    });

    it('should list only the top users but count them all', async () => {
      const report = await usageReport(database.db, { from: '2026-02-27', to: '2026-03-02' }, {}, { topUsers: 2 });
      expect(report.byUser.map((u) => u.userId)).toEqual(['u1', 'u1']);
      expect(report.userCount).toBe(5);
    });
  });

  describe('filters', () => {
    const range = { from: '2026-02-27', to: '2026-03-02' };

    it('should filter by platform, "" meaning rows without one', async () => {
      expect((await usageReport(database.db, range, { platform: 'discord' })).totals).toMatchObject({ events: 3, tokensIn: 600, costUsd: 0.875 });
      expect((await usageReport(database.db, range, { platform: '' })).totals).toMatchObject({ events: 1, tokensIn: 50 });
    });

    it('should filter by Experience, 0 meaning none, and list that Experience\'s users', async () => {
      const report = await usageReport(database.db, range, { experienceId: support });
      expect(report.totals).toEqual({ events: 3, chatTurns: 2, tokensIn: 307, tokensOut: 33, costUsd: 0.8125 });
      expect(report.byUser.map((u) => [u.userId, u.costUsd])).toEqual([
        ['u1', 0.75],
        ['@bo:hs', 0.0625],
      ]);
      expect((await usageReport(database.db, range, { experienceId: 0 })).totals.events).toBe(1);
    });

    it('should filter by model', async () => {
      const report = await usageReport(database.db, range, { model: 'anthropic/claude-haiku-4-5' });
      expect(report.totals).toMatchObject({ events: 1, tokensIn: 300, costUsd: 0.125 });
      expect(report.byUser.map((u) => u.userId)).toEqual(['u2']);
    });

    it('should show one user alone, per platform', async () => {
      const report = await usageReport(database.db, range, { platform: 'discord', userId: 'u1' });
      expect(report.totals).toEqual({ events: 2, chatTurns: 1, tokensIn: 300, tokensOut: 30, costUsd: 0.75 });
      expect(report.perDay.map((c) => c.day)).toEqual(['2026-02-27']);
      expect(report.byExperience.map((e) => e.name)).toEqual(['Support <desk>']);
    });

    it('should combine filters', async () => {
      const report = await usageReport(database.db, range, { platform: 'discord', experienceId: support, model: 'openai/gpt-4o-mini' });
      expect(report.totals.events).toBe(2);
    });
  });

  describe('ranges', () => {
    it('should refuse a range that is not dates, ends before it starts, or is too long', async () => {
      await expect(usageReport(database.db, { from: '2026-02-30', to: '2026-03-02' })).rejects.toThrow(/from: "2026-02-30" is not a date/);
      await expect(usageReport(database.db, { from: '2026-03-02', to: '2026-03-02' })).rejects.toThrow(/must end after it starts/);
      await expect(usageReport(database.db, { from: '2000-01-01', to: '2026-03-02' })).rejects.toThrow(/at most/);
    });

    it('should give the same figures from the rollups as from plain GROUP BYs over the raw rows', async () => {
      for (const range of [
        { from: '2026-02-27', to: '2026-03-02' },
        { from: '2026-01-15', to: '2026-04-10' }, // whole February and March from the monthly rollups
        { from: '2026-02-01', to: '2026-03-01' },
        { from: '2026-03-02', to: '2026-03-03' },
      ]) {
        for (const filter of [{}, { platform: 'discord' }, { experienceId: support }, { platform: 'discord', userId: 'u1' }]) {
          const fast = await usageReport(database.db, range, filter);
          const raw = await usageReport(database.db, range, filter, { fromRawEvents: true });
          expect(comparable(fast), JSON.stringify({ range, filter })).toEqual(comparable(raw));
        }
      }
    });
  });
});

describe('usage rollups', () => {
  it('should backfill rows written before the migration and follow inserts, deletes and updates after', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'threadloom-rollup-'));
    try {
      const folder = path.join(dir, 'migrations');
      copyMigrations(folder, ['2026-11-22T0001_initial.ts']);
      const database = openDatabase(path.join(dir, 'threadloom.db'));
      await migrateToLatest(database.db, folder);
      // a deterministic spread over three months, two platforms, three users, three models
      let seed = 11;
      const random = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
      const rows = Array.from({ length: 600 }, (_, i) =>
        event(new Date(Date.UTC(2026, 0, 1) + random(90 * 24) * 3_600_000 + i).toISOString(), {
          platform: ['discord', 'slack', null][random(3)]!,
          user_id: ['a', 'b', null][random(3)]!,
          experience_id: [1, 2, null][random(3)]!,
          model: ['openai/gpt-4o', 'ollama/llama3.2', 'anthropic/claude-sonnet-4'][random(3)]!,
          purpose: random(4) === 0 ? 'title' : 'chat',
          tokens_in: random(5000),
          tokens_out: random(900),
          cost_usd: random(1000) / 1024,
        }),
      );
      await database.db.insertInto('usage_events').values(rows.slice(0, 400)).execute();
      await migrateToLatest(database.db); // the rollup migration backfills these 400
      await database.db.insertInto('usage_events').values(rows.slice(400)).execute();
      await database.db.deleteFrom('usage_events').where('id', 'in', [3, 50, 450]).execute();
      await database.db.updateTable('usage_events').set({ platform: 'matrix', tokens_in: 1, created_at: '2026-02-10T00:00:00.000Z' }).where('id', 'in', [7, 470]).execute();

      const range = { from: '2026-01-01', to: '2026-04-01' };
      const fast = await usageReport(database.db, range);
      expect(fast.totals.events).toBe(597);
      expect(comparable(fast)).toEqual(comparable(await usageReport(database.db, range, {}, { fromRawEvents: true })));
      for (const filter of [{ platform: 'matrix' }, { userId: '' }, { model: 'ollama/llama3.2' }]) {
        expect(comparable(await usageReport(database.db, range, filter))).toEqual(comparable(await usageReport(database.db, range, filter, { fromRawEvents: true })));
      }
      await database.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('usageCsv', () => {
  let database: Db;

  beforeAll(async () => {
    database = await createTestDatabase();
    const same = '2026-05-01T10:00:00.000Z';
    await database.db
      .insertInto('usage_events')
      .values([
        event('2026-05-02T05:00:00.000Z', { tokens_in: 42 }), // the first id, but not the first in time
        ...Array.from({ length: 7 }, (_, i) => event(same, { tokens_in: i })), // one timestamp across pages
        event('2026-05-02T00:00:00.000Z', { user_id: 'Smith, "Jo"', status: 'error', error: 'line one\nline two, with "quotes"' }),
        event('2026-05-02T01:00:00.000Z', { user_id: '=HYPERLINK("http://x")' }),
        event('2026-05-03T00:00:00.000Z', { tokens_in: 99 }),
      ])
      .execute();
  });

  afterAll(async () => {
    await database.cleanup();
  });

  it('should write a header and every row of the range once, across pages', async () => {
    const records = parseCsv(await csvText(database.db, { from: '2026-05-01', to: '2026-05-03' }, {}, () => true, 3));
    expect(records[0]).toEqual(['id', 'created_at', 'platform', 'user_id', 'experience_id', 'conversation_id', 'message_id', 'provider', 'model', 'purpose', 'tokens_in', 'tokens_out', 'estimated', 'cost_usd', 'latency_ms', 'ttft_ms', 'status', 'error', 'priced']);
    const ids = records.slice(1).map((r) => Number(r[0]));
    expect(ids).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 1]);
  });

  it('should quote commas, quotes and line breaks, and defuse formulas', async () => {
    const records = parseCsv(await csvText(database.db, { from: '2026-05-02', to: '2026-05-03' }));
    expect(records).toHaveLength(4);
    expect(records[1]![3]).toBe('Smith, "Jo"');
    expect(records[1]![17]).toBe('line one\nline two, with "quotes"');
    expect(records[2]![3]).toBe('\'=HYPERLINK("http://x")');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField(null)).toBe('');
    expect(csvField(-3)).toBe('-3');
  });

  it('should leave the cost of an unpriced model empty and say it is unpriced, not $0', async () => {
    const records = parseCsv(await csvText(database.db, { from: '2026-05-03', to: '2026-05-04' }, {}, (model) => model !== 'openai/gpt-4o-mini'));
    const priced = records[0]!.indexOf('priced');
    const cost = records[0]!.indexOf('cost_usd');
    expect(records[1]![priced]).toBe('no');
    expect(records[1]![cost]).toBe('');
    const known = parseCsv(await csvText(database.db, { from: '2026-05-03', to: '2026-05-04' }));
    expect(known[1]![priced]).toBe('yes');
    expect(known[1]![cost]).not.toBe('');
  });

  it('should apply the filter', async () => {
    const records = parseCsv(await csvText(database.db, { from: '2026-05-01', to: '2026-05-04' }, { userId: 'u1' }));
    expect(records.slice(1).map((r) => Number(r[0]))).toEqual([2, 3, 4, 5, 6, 7, 8, 1, 11]);
  });
});

describe('Usage page', () => {
  let admin: TestAdmin;
  let session: AdminSession;
  let qa: number;

  beforeAll(async () => {
    admin = await startTestAdmin(); // the clock says 2026-11-22T12:00Z: the default range is 2026-10-24..2026-11-22
    session = await admin.login();
    qa = (await admin.rt.deps.experiences.create({ name: 'Q&A <b>bold</b>', slug: 'qa', systemPrompt: 'Answer.' })).id;
    await admin.rt.database.db
      .insertInto('usage_events')
      .values([
        event('2026-10-23T23:00:00.000Z', { tokens_in: 5000, tokens_out: 5000, cost_usd: 7 }),
        event('2026-11-20T10:00:00.000Z', { experience_id: qa, tokens_in: 1000, tokens_out: 200, cost_usd: 0.5, error: 'slow, then "fine"' }),
        event('2026-11-21T10:00:00.000Z', { platform: 'slack', user_id: 'u2', model: 'ollama/llama3.2', provider: 'ollama', tokens_in: 300, tokens_out: 100 }),
        event('2026-11-22T10:00:00.000Z', { platform: 'matrix', user_id: '<script>alert(1)</script>', model: 'evil/<img src=x onerror=alert(1)>', provider: 'evil', tokens_in: 100, tokens_out: 10, cost_usd: 0.25 }),
      ])
      .execute();
  });

  afterAll(async () => {
    await admin.close();
  });

  const figure = (body: string, name: string) => new RegExp(`data-figure="${name}">([^<]*)<`).exec(body)?.[1];

  it('should show the last 30 days by default: totals, charts with data, and the breakdowns', async () => {
    const page = await session.get('/usage');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('value="2026-10-24"');
    expect(page.body).toContain('value="2026-11-22"');
    expect([figure(page.body, 'events'), figure(page.body, 'tokens-in'), figure(page.body, 'tokens-out'), figure(page.body, 'cost')]).toEqual(['3', '1,400', '310', '$0.75']);
    const tokensChart = /<div id="chart-tokens">([\s\S]*?)<\/div>/.exec(page.body)![1]!;
    expect(tokensChart).toContain('data-kind="bar"');
    expect(tokensChart.match(/<rect class="bar"/g)).toHaveLength(3);
    expect(tokensChart).toContain('<title>11-20 · openai/gpt-4o-mini: 1,200</title>');
    expect(page.body).toMatch(/<th scope="row"><a [^>]*>Q&amp;A &lt;b&gt;bold&lt;\/b&gt;<\/a><\/th>/);
    expect(page.body).toContain('href="/usage.csv?from=2026-10-24&amp;to=2026-11-22"');
  });

  it('should escape everything that came from users and platforms, in tables and charts', async () => {
    const page = await session.get('/usage');
    expect(page.body).not.toContain('<img src=x');
    expect(page.body).not.toContain('<script>alert(1)');
    expect(page.body).toContain('evil/&lt;img src=x onerror=alert(1)&gt;');
    expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const costChart = /<div id="chart-cost">([\s\S]*?)<\/div>/.exec(page.body)![1]!;
    expect(costChart).toContain('>evil/&lt;img src=x onerror=alert(1)&gt;</text>');
  });

  it('should follow the chosen range and filters', async () => {
    const wider = await session.get('/usage?from=2026-10-01&to=2026-11-22');
    expect([figure(wider.body, 'events'), figure(wider.body, 'cost')]).toEqual(['4', '$7.75']);
    const slack = await session.get('/usage?platform=slack');
    expect([figure(slack.body, 'events'), figure(slack.body, 'tokens-in')]).toEqual(['1', '300']);
    const experience = await session.get(`/usage?experience=${qa}`);
    expect(figure(experience.body, 'cost')).toBe('$0.50');
    const model = await session.get(`/usage?model=${encodeURIComponent('ollama/llama3.2')}`);
    expect(figure(model.body, 'events')).toBe('1');
  });

  it('should narrow to one user from the by-user table', async () => {
    const page = await session.get('/usage');
    const link = /<a href="([^"]*user=u2[^"]*)"/.exec(page.body)![1]!.replaceAll('&amp;', '&');
    const user = await session.get(link);
    expect([figure(user.body, 'events'), figure(user.body, 'tokens-in')]).toEqual(['1', '300']);
    expect(user.body).toContain('Showing user <strong>slack:u2</strong>');
  });

  it('should draw lines instead of bars over a year', async () => {
    const page = await session.get('/usage?from=2025-11-23&to=2026-11-22');
    expect(page.body).toContain('data-kind="line"');
    expect(page.body).toContain('365 day(s)');
  });

  it('should render only the page for htmx, and refuse a bad range', async () => {
    const fragment = await session.get('/usage?platform=slack', { 'hx-request': 'true' });
    expect(fragment.body.startsWith('<h1>Usage</h1>')).toBe(true);
    const bad = await session.get('/usage?from=2026-13-01');
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('from: &quot;2026-13-01&quot; is not a date');
    expect((await session.get('/usage?from=2026-11-22&to=2026-11-01')).statusCode).toBe(400);
  });

  it('should export the raw rows of the range as CSV', async () => {
    const csv = await session.get('/usage.csv?from=2026-10-01&to=2026-11-22');
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toBe('attachment; filename="threadloom-usage-2026-10-01-to-2026-11-22.csv"');
    const records = parseCsv(csv.body);
    expect(records[0]![0]).toBe('id');
    expect(records).toHaveLength(5);
    expect(records.find((r) => r[17] === 'slow, then "fine"')).toBeDefined();
    const filtered = parseCsv((await session.get('/usage.csv?from=2026-10-01&to=2026-11-22&platform=slack')).body);
    expect(filtered.slice(1).map((r) => r[3])).toEqual(['u2']);
  });
});
