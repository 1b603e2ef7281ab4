import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordUsage, usageRow } from '../../src/core/usage/ledger.js';
import { startTestAdmin, type AdminSession, type TestAdmin } from '../support/admin.js';
import { RecordingReply, inbound } from '../support/reply.js';

/** The Cost cell of one model's row in the page's by-model table. */
function modelCost(body: string, model: string): string | undefined {
  const table = /<table class="usage-table" id="by-model">([\s\S]*?)<\/table>/.exec(body)?.[1] ?? '';
  const row = table.split('<tr>').find((r) => r.includes(`>${model}</a></th>`));
  return row ? [...row.matchAll(/<td class="num">([^<]*)<\/td>/g)].at(-1)?.[1] : undefined;
}

describe('Usage page prices', () => {
  let admin: TestAdmin;
  let session: AdminSession;
  let query: string;

  beforeAll(async () => {
    // no `prices` in config: the fake OpenAI server on 127.0.0.1 is what it looks like, a local server
    admin = await startTestAdmin({ config: (c) => ({ ...c, prices: {} }) });
    session = await admin.login();
    const today = new Date().toISOString().slice(0, 10); // the ledger stamps rows with the database's clock
    query = `from=${today}&to=${today}`;
  });

  afterAll(async () => {
    await admin.close();
  });

  const chatRows = () => admin.rt.deps.db.selectFrom('usage_events').selectAll().where('purpose', '=', 'chat').orderBy('id').execute();

  it('should record a turn answered by a local server serving a hosted model name as costing nothing', async () => {
    admin.rt.openai.script({ answer: 'Local answer.', usage: { input: 120_000, output: 12_000 } });
    await admin.rt.engine.handle(inbound('hello, local model'), new RecordingReply());

    const [row] = await chatRows();
    expect(row).toMatchObject({ model: 'openai/gpt-4o-mini', tokens_in: 120_000, tokens_out: 12_000, estimated: 0, status: 'ok' });
    expect(row!.cost_usd).toBe(0);
    expect(modelCost((await session.get(`/usage?${query}`)).body, 'openai/gpt-4o-mini')).toBe('$0');
  });

  it('should show an unknown model of a hosted provider as unpriced, not $0, and say its calls are left out of the cost', async () => {
    const call = { modelId: 'openrouter/gpt-5-nonexistent', provider: 'openrouter', model: 'gpt-5-nonexistent', usage: { inputTokens: 5_000, outputTokens: 500 }, outputText: 'x', latencyMs: 10, ttftMs: 5, status: 'ok' as const, error: null };
    const row = usageRow(call, { platform: 'test', userId: 'ada', experienceId: null, conversationId: null, messageId: null, purpose: 'chat' }, admin.rt.deps.prices, 0);
    expect(row.cost_usd).toBe(0);
    await recordUsage(admin.rt.deps.db, [row]);

    const page = await session.get(`/usage?${query}`);
    expect(modelCost(page.body, 'openrouter/gpt-5-nonexistent')).toBe('unpriced');
    expect(modelCost(page.body, 'openai/gpt-4o-mini')).toBe('$0');
    expect(/data-figure="unpriced-calls">([^<]*)</.exec(page.body)?.[1]).toBe('1');
  });
});
