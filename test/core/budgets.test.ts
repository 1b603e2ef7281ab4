import { afterEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { BudgetService } from '../../src/core/budgets/service.js';
import { configSchema } from '../../src/core/config.js';
import type { NewUsageEventRow } from '../../src/core/usage/table.js';
import { silentLogger } from '../../src/core/log.js';
import { startRuntime, type Runtime } from '../../src/core/runtime.js';
import { promptTokenEstimate, recordUsage } from '../../src/core/usage/ledger.js';
import { RecordingReply, command, inbound } from '../support/reply.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';

type BudgetsInput = z.input<typeof configSchema>['budgets'];

/** 20:48 UTC: the day resets in 3 h 12 min, the month on 1 December in 8 d 3 h 12 min. */
const START = new Date('2026-11-22T20:48:00.000Z');
const DAY_RESET = 'It resets at 00:00 UTC (in 3 h 12 min).';
const MONTH_RESET = 'It resets on 1 December at 00:00 UTC (in 8 d 3 h).';

/** A turn holds its prompt estimate plus this many answer tokens. */
const ANSWER_TOKENS = 100;

let clock = START;
let rt: TestRuntime;
let restarted: Runtime | null = null;
const titled = new Set<string>();

async function start(budgets: BudgetsInput, options: { exemptLocal?: boolean } = {}): Promise<void> {
  clock = START;
  titled.clear();
  rt = await startTestRuntime({
    now: () => clock,
    config: (c) => ({
      ...c,
      admins: ['test:root'],
      limits: { ...c.limits, userTurnsPerMinute: 1000 },
      context: { ...c.context, reservedAnswerTokens: ANSWER_TOKENS },
      budgets: configSchema.shape.budgets.parse({ ...budgets, ...(options.exemptLocal === false ? { exemptLocalFromMoney: false } : {}) }),
    }),
  });
}

afterEach(async () => {
  await restarted?.close();
  restarted = null;
  await rt.shutdown();
});

/** The running runtime: the first, or the one after a restart. */
function current(): Runtime {
  return restarted ?? rt;
}

async function general() {
  return current().deps.experiences.require('general');
}

/** Spending recorded earlier through the real ledger, as a provider call would be. */
async function spent(tokens: number, usd = 0, row: Partial<NewUsageEventRow> = {}): Promise<void> {
  await recordUsage(current().deps.db, [
    {
      platform: 'test',
      user_id: 'ada',
      experience_id: (await general()).id,
      provider: 'openai',
      model: 'openai/gpt-4o-mini',
      purpose: 'chat',
      tokens_in: tokens,
      tokens_out: 0,
      estimated: 0,
      cost_usd: usd,
      status: 'ok',
      created_at: clock.toISOString(),
      ...row,
    },
  ]);
}

/** A titled conversation in the user's DM, so no title call adds to the figures. */
async function conversation(user: string, channel: string): Promise<void> {
  if (titled.has(channel)) return;
  titled.add(channel);
  const { deps } = current();
  if (await deps.conversations.findActive({ platform: 'test', channelId: channel, threadId: null })) return;
  const created = await deps.conversations.create({ platform: 'test', channelId: channel, threadId: null }, (await general()).id, `test:${user}`);
  await deps.conversations.update(created.id, { title: 'Budgets' });
}

/** A message from `user` in their DM (or `channel`); `usage` scripts what the fake reports for the answer. */
async function ask(text: string, options: { user?: string; channel?: string; usage?: { input: number; output: number } } = {}): Promise<RecordingReply> {
  const user = options.user ?? 'ada';
  const channel = options.channel ?? `dm-${user}`;
  await conversation(user, channel);
  if (options.usage) rt.openai.script({ answer: `answer: ${text}`, usage: options.usage });
  const reply = new RecordingReply();
  await current().engine.handle(inbound(text, { author: { id: user, name: user, isBot: false }, channelId: channel }), reply);
  return reply;
}

async function run(name: string, args: string, user = 'root'): Promise<string> {
  const reply = new RecordingReply();
  await current().engine.handle(command(name, args, { author: { id: user, name: user, isBot: false }, channelId: `dm-${user}` }), reply);
  return reply.last().text;
}

/** Tokens and dollars the ledger holds for a user today. */
async function ledger(user = 'ada') {
  const rows = await current().deps.db.selectFrom('usage_events').selectAll().where('user_id', '=', user).execute();
  return { tokens: rows.reduce((n, r) => n + r.tokens_in + r.tokens_out, 0), usd: rows.reduce((n, r) => n + r.cost_usd, 0) };
}

describe(BudgetService.name, () => {
  describe('refusals', () => {
    const levels: Array<[string, BudgetsInput, Partial<NewUsageEventRow>, string]> = [
      ['a user', { users: { 'test:ada': { daily: { tokens: 1000 } } } }, {}, 'Your daily budget'],
      ['the platform', { platforms: { test: { daily: { tokens: 1000 } } } }, { user_id: 'bo' }, "The test platform's daily budget"],
      ['an Experience', { experiences: { general: { daily: { tokens: 1000 } } } }, { user_id: 'bo' }, "The general Experience's daily budget"],
      ['the team', { global: { daily: { tokens: 1000 } } }, { user_id: 'bo', platform: 'discord' }, "The team's daily budget"],
    ];
    for (const [level, budgets, spender, name] of levels) {
      it(`should refuse over ${level}'s limit with one line, sending nothing to the provider`, async () => {
        await start(budgets);
        // pooled levels add up everyone's spending: here someone else spent it
        await spent(1200, 0, spender);
        const reply = await ask('hello');

        expect(reply.messages).toHaveLength(1);
        expect(reply.last()).toMatchObject({ private: true, text: `${name} is used up: 1,200 of 1,000 tokens today. ${DAY_RESET}` });
        expect(rt.openai.chatRequests()).toHaveLength(0);
      });
    }

    it("should not count someone else's spending against a user's own limit", async () => {
      await start({ users: { 'test:ada': { daily: { tokens: 1000 } } } });
      await spent(5000, 0, { user_id: 'bo' });
      const reply = await ask('hello', { usage: { input: 300, output: 200 } });
      expect(reply.last().text).toBe('answer: hello');
      expect(rt.openai.chatRequests()).toHaveLength(1);
    });

    it('should refuse a money budget per month, naming the month reset', async () => {
      await start({ experiences: { general: { monthly: { usd: 0.5 } } } });
      await spent(10, 0.62, { user_id: 'bo' });
      const reply = await ask('hello');
      expect(reply.last().text).toBe(`The general Experience's monthly budget is used up: $0.62 of $0.50 this month. ${MONTH_RESET}`);
      expect(rt.openai.chatRequests()).toHaveLength(0);
    });

    it('should refuse when what is left cannot hold one more answer', async () => {
      await start({ users: { 'test:ada': { daily: { tokens: 1000 } } } });
      await spent(990);
      const reply = await ask('hello');
      expect(reply.last().text).toMatch(/^Your daily budget has too little left for another answer: 990 of 1,000 tokens used today, and an answer here may need up to [\d,]+ tokens\. It resets at 00:00 UTC \(in 3 h 12 min\)\.$/);
      expect(rt.openai.chatRequests()).toHaveLength(0);
    });

    it('should refuse regenerating and editing once the budget is spent', async () => {
      await start({ users: { 'test:ada': { daily: { tokens: 1000 } } } });
      const first = await ask('restart nginx', { usage: { input: 600, output: 500 } });
      const answer = first.last();
      expect(answer.text).toBe(`answer: restart nginx\n\n⚠ Your daily budget is 110% used: 1,100 of 1,000 tokens today. ${DAY_RESET}`);

      const regen = new RecordingReply();
      await rt.engine.handle(inbound('', { kind: 'action', action: { name: 'regen', targetMessageId: answer.id }, channelId: 'dm-ada' }), regen);
      expect(regen.last().text).toBe(`Your daily budget is used up: 1,100 of 1,000 tokens today. ${DAY_RESET}`);

      const question = (await rt.deps.db.selectFrom('platform_messages').innerJoin('messages', 'messages.id', 'platform_messages.message_id').select('platform_message_id').where('role', '=', 'user').executeTakeFirstOrThrow()).platform_message_id;
      const edit = new RecordingReply();
      await rt.engine.handle(inbound('reload nginx', { kind: 'edit', messageId: question, channelId: 'dm-ada' }), edit);
      expect(edit.last().text).toBe(`Your daily budget is used up: 1,100 of 1,000 tokens today. ${DAY_RESET}`);
      expect(rt.openai.chatRequests()).toHaveLength(1);
    });
  });

  describe('periods', () => {
    it('should start a daily budget afresh at 00:00 UTC', async () => {
      await start({ users: { 'test:ada': { daily: { tokens: 1000 } } } });
      await spent(1200);
      expect((await ask('before midnight')).last().text).toBe(`Your daily budget is used up: 1,200 of 1,000 tokens today. ${DAY_RESET}`);
      clock = new Date('2026-11-22T23:59:59.000Z');
      expect((await ask('one second before')).last().text).toBe('Your daily budget is used up: 1,200 of 1,000 tokens today. It resets at 00:00 UTC (in 1 min).');

      clock = new Date('2026-11-23T00:00:00.000Z');
      expect((await ask('after midnight', { usage: { input: 300, output: 200 } })).last().text).toBe('answer: after midnight');
      expect(rt.openai.chatRequests()).toHaveLength(1);
    });

    it('should start a monthly budget afresh on the 1st, not the next day', async () => {
      await start({ users: { 'test:ada': { monthly: { tokens: 1000 } } } });
      await spent(1200);
      clock = new Date('2026-11-30T12:00:00.000Z');
      expect((await ask('next day')).last().text).toBe('Your monthly budget is used up: 1,200 of 1,000 tokens this month. It resets on 1 December at 00:00 UTC (in 12 h).');

      clock = new Date('2026-12-01T00:00:00.000Z');
      expect((await ask('new month', { usage: { input: 300, output: 200 } })).last().text).toBe('answer: new month');
      expect(rt.openai.chatRequests()).toHaveLength(1);
    });
  });

  describe('warnings', () => {
    it('should warn once per budget and period at 80%, and not again after a restart', async () => {
      await start({ users: { 'test:ada': { daily: { tokens: 10_000 } } } });
      await spent(7000);
      const crossing = await ask('first', { usage: { input: 1200, output: 300 } });
      expect(crossing.last().text).toBe(`answer: first\n\n⚠ Your daily budget is 85% used: 8,500 of 10,000 tokens today. ${DAY_RESET}`);
      expect((await ask('second', { usage: { input: 100, output: 100 } })).last().text).toBe('answer: second');

      // a new process on the same database: the spending comes back from the ledger, the warning stays given
      await rt.close();
      restarted = await startRuntime(rt.deps.config, { now: () => clock, log: silentLogger });
      expect((await ask('after restart', { usage: { input: 100, output: 100 } })).last().text).toBe('answer: after restart');
      expect(await run('usage', '', 'ada')).toContain(`• Your daily budget: 8,900 of 10,000 tokens used today, 1,100 tokens left; resets at 00:00 UTC (in 3 h 12 min)`);

      clock = new Date('2026-11-23T08:00:00.000Z');
      await spent(8000);
      expect((await ask('next day', { usage: { input: 100, output: 100 } })).last().text).toBe(
        'answer: next day\n\n⚠ Your daily budget is 82% used: 8,200 of 10,000 tokens today. It resets at 00:00 UTC (in 16 h).',
      );
    });

    it("should warn about the team's budget once, to whoever crosses it", async () => {
      await start({ global: { daily: { tokens: 10_000 } } });
      await spent(7000, 0, { user_id: 'bo' });
      expect((await ask('mine', { usage: { input: 1200, output: 300 } })).last().text).toBe(`answer: mine\n\n⚠ The team's daily budget is 85% used: 8,500 of 10,000 tokens today. ${DAY_RESET}`);
      expect((await ask('and mine', { user: 'bo', usage: { input: 100, output: 100 } })).last().text).toBe('answer: and mine');
      expect((await rt.budgets.budgetOverview()).warnings).toEqual([{ budget: 'global|daily|tokens', period: '2026-11-22', warnedAt: START.toISOString() }]);
    });
  });

  describe('admin commands', () => {
    it('should raise a limit with a temporary override until it expires', async () => {
      await start({ users: { 'test:ada': { daily: { tokens: 1000 } } } });
      await spent(1200);
      expect((await ask('please')).last().text).toBe(`Your daily budget is used up: 1,200 of 1,000 tokens today. ${DAY_RESET}`);

      expect(await run('budget', 'override test:ada tokens 5000 for 2h')).toBe('test:ada gets 5,000 tokens extra on every limit their turns meet until 2026-11-22 22:48 UTC.');
      expect((await ask('now?', { usage: { input: 300, output: 200 } })).last().text).toBe('answer: now?');
      expect(await run('budget', 'test:ada')).toContain('• test:ada\'s daily budget: 1,700 of 6,000 tokens used today (with 5,000 tokens extra), 4,300 tokens left');

      clock = new Date('2026-11-22T22:49:00.000Z');
      expect((await ask('and now?')).last().text).toBe('Your daily budget is used up: 1,700 of 1,000 tokens today. It resets at 00:00 UTC (in 1 h 11 min).');
      expect(rt.openai.chatRequests()).toHaveLength(1);
    });

    it("should set a user's and a role's limit at run time, over config and back", async () => {
      await start({ users: { 'test:ada': { daily: { tokens: 1000 } } } });
      await spent(1200);
      await spent(600, 0, { user_id: 'bo' });

      expect(await run('budget', 'set test:ada daily tokens 3k')).toBe('Daily limit for test:ada is now 3,000 tokens.');
      expect((await ask('raised', { usage: { input: 100, output: 100 } })).last().text).toBe('answer: raised');
      expect(await run('budget', 'set test:ada daily tokens default')).toBe("Daily tokens limit for test:ada is back to the config file's: 1,000 tokens.");
      expect((await ask('back')).last().text).toBe(`Your daily budget is used up: 1,400 of 1,000 tokens today. ${DAY_RESET}`);
      expect(await run('budget', 'set test:ada daily tokens none')).toBe('Daily tokens limit for test:ada is lifted, whatever the config file says.');
      expect((await ask('lifted', { usage: { input: 100, output: 100 } })).last().text).toBe('answer: lifted');

      // everyone without a role of their own is in `user`
      expect(await run('budget', 'set @user daily tokens 500')).toBe('Daily limit for each member of @user is now 500 tokens.');
      expect((await ask('me too?', { user: 'bo' })).last().text).toBe(`Your daily budget is used up: 600 of 500 tokens today. ${DAY_RESET}`);
      expect(await rt.deps.db.selectFrom('budget_limits').select(['scope', 'target', 'amount']).orderBy('scope').execute()).toEqual([
        { scope: 'role', target: 'user', amount: 500 },
        { scope: 'user', target: 'test:ada', amount: null },
      ]);
    });

    it('should answer bad input with the usage, and non-admins with a refusal', async () => {
      await start({});
      expect(await run('budget', 'set test:ada weekly tokens 5')).toMatch(/^The period is `daily` or `monthly`\.\nUsage: budget \[platform:userId\]/);
      expect(await run('budget', 'override test:ada tokens 500 for ever')).toMatch(/^Say how long: `for 24h`/);
      expect(await run('budget', 'set nobody daily tokens 5')).toMatch(/^Say whose limit: platform:userId, @role, global/);
      expect(await run('budget', 'set test:ada daily tokens 5', 'ada')).toBe('Only Threadloom admins can use `budget`.');
      expect(await rt.deps.db.selectFrom('budget_limits').selectAll().execute()).toEqual([]);
    });
  });

  describe('local models', () => {
    it('should let a local model answer past a money budget and still count its tokens', async () => {
      await start({ global: { monthly: { usd: 0.1, tokens: 100_000 } } });
      await spent(1000, 0.2);
      expect((await ask('paid?')).last().text).toBe(`The team's monthly budget is used up: $0.20 of $0.10 this month. ${MONTH_RESET}`);

      await run('model', 'ollama/llama3.2:latest', 'ada');
      rt.ollama.script({ answer: 'local answer', usage: { input: 400, output: 100 } });
      expect((await ask('local?')).last().text).toBe('local answer');
      expect(rt.openai.chatRequests()).toHaveLength(0);

      const global = (await rt.budgets.budgetOverview()).budgets.filter((b) => b.level === 'global');
      expect(global.map((b) => [b.unit, b.used])).toEqual([
        ['tokens', 1500],
        ['usd', 0.2],
      ]);
    });

    it('should hold local models to money budgets when they are not exempt', async () => {
      await start({ global: { monthly: { usd: 0.1 } } }, { exemptLocal: false });
      await spent(1000, 0.2);
      await conversation('ada', 'dm-ada');
      await run('model', 'ollama/llama3.2:latest', 'ada');
      expect((await ask('local?')).last().text).toBe(`The team's monthly budget is used up: $0.20 of $0.10 this month. ${MONTH_RESET}`);
      expect(rt.ollama.chatRequests()).toHaveLength(0);
    });
  });

  describe('cheaper model', () => {
    const budgets: BudgetsInput = { experiences: { general: { daily: { usd: 0.01 }, cheaperModel: 'ollama/llama3.2:latest' } } };

    it('should answer with the cheaper model once a budget is nearly spent, and say so', async () => {
      await start(budgets);
      await spent(10, 0.009);
      rt.ollama.script({ answer: 'cheaper answer', usage: { input: 50, output: 20 } });
      const reply = await ask('hello');
      expect(reply.last().text).toBe("cheaper answer\n\n↓ The general Experience's daily budget is 90% used, so ollama/llama3.2:latest answered instead of openai/gpt-4o-mini.");
      expect(rt.openai.chatRequests()).toHaveLength(0);
      expect(rt.ollama.chatRequests()).toHaveLength(1);
      const answer = await rt.deps.db.selectFrom('messages').select('model').where('role', '=', 'assistant').executeTakeFirstOrThrow();
      expect(answer.model).toBe('ollama/llama3.2:latest');
    });

    it('should route instead of refusing when the budget is used up', async () => {
      await start(budgets);
      await spent(10, 0.02);
      rt.ollama.script({ answer: 'cheaper answer', usage: { input: 50, output: 20 } });
      expect((await ask('hello')).last().text).toBe("cheaper answer\n\n↓ The general Experience's daily budget is used up, so ollama/llama3.2:latest answered instead of openai/gpt-4o-mini.");
    });

    it('should keep the usual model below the threshold', async () => {
      await start(budgets);
      await spent(10, 0.005);
      expect((await ask('hello', { usage: { input: 10, output: 10 } })).last().text).toBe('answer: hello');
      expect(rt.ollama.chatRequests()).toHaveLength(0);
    });
  });

  describe('concurrent turns', () => {
    const TURNS = 20;
    /** the limit leaves room for this many answers' holds, and half of one more */
    const ROOM_FOR = 3;

    /**
     * One answer first, to learn what a turn here holds (its prompt estimate plus the answer
     * tokens); then a daily limit with room for ROOM_FOR such holds and a half, and TURNS messages
     * at once in TURNS conversations, each answer slow enough that they are all in flight together.
     */
    async function burst(answerUsage: (hold: number) => { input: number; output: number }) {
      await start({});
      await ask('go', { channel: 'dm-probe', usage: { input: 10, output: 10 } });
      const hold = promptTokenEstimate(rt.openai.lastChatBody().messages) + ANSWER_TOKENS;
      const before = (await ledger()).tokens;
      const limit = before + ROOM_FOR * hold + Math.floor(hold / 2);
      expect(await run('budget', `set test:ada daily tokens ${limit}`)).toBe(`Daily limit for test:ada is now ${limit.toLocaleString('en')} tokens.`);

      const channels = Array.from({ length: TURNS }, (_, i) => `dm-${i + 1}`);
      for (const channel of channels) await conversation('ada', channel);
      const usage = answerUsage(hold);
      // slow enough to be all in flight together, also on PostgreSQL, where the checks take turns under a lock
      rt.openai.script(...channels.map(() => ({ answer: 'answer: go', usage, delayMs: 250, chunkSize: 2 })));
      const replies = channels.map(() => new RecordingReply());
      await Promise.all(channels.map((channel, i) => rt.engine.handle(inbound('go', { channelId: channel }), replies[i]!)));

      const answered = replies.filter((r) => r.messages.some((m) => m.text.startsWith('answer: go')));
      const refused = replies.filter((r) => r.messages.length === 1 && r.last().private);
      return { hold, before, limit, usage, answered, refused, after: (await ledger()).tokens, requests: rt.openai.chatRequests().length - 1 };
    }

    it(`should let through only the ${ROOM_FOR} of ${TURNS} simultaneous turns whose holds fit, and stay within the limit`, async () => {
      const burstRun = await burst(() => ({ input: 10, output: 50 }));

      expect(burstRun.requests).toBe(ROOM_FOR);
      expect(burstRun.answered).toHaveLength(ROOM_FOR);
      expect(burstRun.refused).toHaveLength(TURNS - ROOM_FOR);
      for (const reply of burstRun.refused) expect(reply.last().text).toMatch(/^Your daily budget (is used up|has too little left for another answer): /);
      // answers within their holds: the limit is never passed
      expect(burstRun.after).toBe(burstRun.before + ROOM_FOR * 60);
      expect(burstRun.after).toBeLessThanOrEqual(burstRun.limit);

      // the holds were let go: another answer fits in what is left (the fake answers from the refused turns' script)
      expect((await ask('again', { channel: 'dm-1' })).last()).toMatchObject({ private: false, text: 'answer: go' });
      expect(rt.openai.chatRequests()).toHaveLength(1 + ROOM_FOR + 1);
    });

    it('should overshoot by no more than what the answers in flight spent beyond their holds', async () => {
      // each answer reports more than it held (a provider that ignored the answer limit)
      const burstRun = await burst((hold) => ({ input: 10, output: 2 * hold }));
      const perTurn = burstRun.usage.input + burstRun.usage.output;

      expect(burstRun.requests).toBe(ROOM_FOR);
      expect(burstRun.answered).toHaveLength(ROOM_FOR);
      expect(burstRun.after).toBe(burstRun.before + ROOM_FOR * perTurn);
      expect(burstRun.after).toBeGreaterThan(burstRun.limit);
      expect(burstRun.after - burstRun.limit).toBeLessThanOrEqual(ROOM_FOR * (perTurn - burstRun.hold));
    });
  });

  describe('usage and overview', () => {
    it('should show the asking user their spend and what is left today and this month', async () => {
      await start({ users: { 'test:ada': { daily: { tokens: 10_000 } } }, global: { monthly: { usd: 5 } } });
      await spent(2000, 0.25);
      expect(await run('usage', '', 'ada')).toBe(
        [
          'Today (UTC): 1 turns, 2,000 tokens in / 0 out, $0.25',
          'This month: 1 turns, 2,000 tokens in / 0 out, $0.25',
          'Budgets:',
          '• Your daily budget: 2,000 of 10,000 tokens used today, 8,000 tokens left; resets at 00:00 UTC (in 3 h 12 min)',
          "• The team's monthly budget: $0.25 of $5.00 used this month, $4.75 left; resets on 1 December at 00:00 UTC (in 8 d 3 h)",
        ].join('\n'),
      );
    });

    it('should list every budget with its spend, and who is near or over', async () => {
      await start({ users: { 'test:ada': { daily: { tokens: 1000 } } }, roles: { user: { daily: { tokens: 2000 } } }, global: { monthly: { usd: 10 } } });
      await spent(850, 1);
      await spent(2500, 2, { user_id: 'bo' });
      await spent(100, 0, { user_id: 'cy' });
      // a look at an earlier day in between must not lose today's figures
      await rt.budgets.budgetOverview(clock);
      await rt.budgets.budgetOverview(new Date('2026-11-21T12:00:00.000Z'));
      const overview = await rt.budgets.budgetOverview(clock);

      expect(overview.budgets.map((b) => [b.level, b.target, b.period, b.unit, b.used, b.limit, b.percent, b.resetsAt, b.source])).toEqual(
        expect.arrayContaining([
          ['global', '', 'monthly', 'usd', 3, 10, 30, '2026-12-01T00:00:00.000Z', 'config'],
          ['user', 'test:ada', 'daily', 'tokens', 850, 1000, 85, '2026-11-23T00:00:00.000Z', 'config'],
          ['user', 'test:bo', 'daily', 'tokens', 2500, 2000, 125, '2026-11-23T00:00:00.000Z', 'config (role user)'],
          ['user', 'test:cy', 'daily', 'tokens', 100, 2000, 5, '2026-11-23T00:00:00.000Z', 'config (role user)'],
        ]),
      );
      expect(overview.budgets).toHaveLength(4);
      expect(overview.nearOrOver.map((u) => [u.target, u.state])).toEqual([
        ['test:bo', 'over'],
        ['test:ada', 'near'],
      ]);
      expect(overview.identities.map((i) => [i.identity, i.state])).toEqual([
        ['test:bo', 'over'],
        ['test:ada', 'near'],
      ]);
    });
  });

  it('should not hold up turns when no budget is set', async () => {
    await start({});
    expect((await ask('hello', { usage: { input: 10, output: 10 } })).last().text).toBe('answer: hello');
    expect(await ledger()).toEqual({ tokens: 20, usd: expect.any(Number) });
  });
});
